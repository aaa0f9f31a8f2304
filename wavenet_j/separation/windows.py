"""Whole-signal separation by windows, as the original's ``predict_track``, in TensorFlow ops.

Written with TF ops on dynamic shapes so the same function runs eagerly, inside a compiled
``tf.function`` and inside an exported SavedModel: the exported model gives the same numbers
as the project's own separation by construction.
"""

import tensorflow as tf

from wavenet_j.models import rebuild


def window_starts(length, output_frames, hop=None):
    """Where output windows start.

    ``hop=None`` is the original's rule: windows tile the signal from the start, the last is
    moved back to end at the end, and where they overlap the last one's samples are kept (as
    the original's in-place writes did); a signal shorter than one window is zero-padded to
    one. With a ``hop`` (at most ``output_frames``) windows start at every multiple of it and
    the signal is zero-padded past its end to fill the last one.
    """
    if hop is not None:
        return tf.range(0, tf.maximum(length, 1), hop)
    length = tf.maximum(length, output_frames)
    count = (length + output_frames - 1) // output_frames
    return tf.minimum(tf.range(count) * output_frames, length - output_frames)


def separate_signal(model, mix, batch_windows=8, hop=None, jit_compile=False, given=(0, 0)):
    """``mix`` ``[T, C]`` at the model's rate and channels -> ``{source: [T - given[0] - given[1], C]}``.

    Each output window gets its input context around it and contributes the samples up to the next
    window's start (see ``window_starts`` for ``hop``). ``given`` counts samples at the start and
    the end of ``mix`` that are context only (a segment's neighbours): outputs cover the rest,
    windows see those samples as context, and zeros beyond them. Windows run ``batch_windows`` at
    a time and each keeps only its part, so memory holds the signal, one batch and the result,
    however long the signal. ``jit_compile`` compiles the model's pass on a batch with XLA.
    """
    input_frames, output_frames = model.input_shape[1], model.outputs[0].shape[1]
    if hop is not None and not 0 < hop <= output_frames:
        raise ValueError(f"hop = {hop} must be in [1, {output_frames}], the model's output length")
    left, right = given
    length = tf.shape(mix)[0] - left - right
    start = left - (input_frames - output_frames) // 2  # where the first window's input begins in mix
    starts = window_starts(length, output_frames, hop)
    ends = tf.concat([starts[1:], [length]], axis=0)
    after = tf.maximum(starts[-1] + input_frames - (tf.shape(mix)[0] - start), 0)
    padded = tf.pad(mix[tf.maximum(start, 0) :], [[tf.maximum(-start, 0), after], [0, 0]])
    offsets, positions = tf.range(input_frames), tf.range(output_frames)
    count = tf.shape(starts)[0]
    batches = (count + batch_windows - 1) // batch_windows
    names = list(model.output)
    forward = (
        tf.function(lambda windows: model(windows, training=False), jit_compile=True)
        if jit_compile
        else lambda windows: model(windows, training=False)
    )

    def run_batch(batch, parts):
        index = tf.range(batch * batch_windows, (batch + 1) * batch_windows)
        if not jit_compile:  # the last batch is smaller; XLA gets whole batches: one shape to compile
            index = index[index < count]
        window = tf.minimum(index, count - 1)  # past the end: repeats of the last, kept nowhere
        lengths = tf.where(index < count, tf.gather(ends - starts, window), 0)
        keep = positions[None, :] < lengths[:, None]
        batch_starts = tf.gather(starts, window)
        estimates = forward(tf.gather(padded, batch_starts[:, None] + offsets[None, :]))
        return batch + 1, {
            name: parts[name].write(batch, tf.cast(tf.boolean_mask(estimates[name], keep), mix.dtype))
            for name in names
        }

    parts = {
        name: tf.TensorArray(
            mix.dtype, size=batches, infer_shape=False, element_shape=tf.TensorShape([None, mix.shape[-1]])
        )
        for name in names
    }
    _, parts = tf.while_loop(lambda batch, _: batch < batches, run_batch, (0, parts), parallel_iterations=1)
    return {name: part.concat() for name, part in parts.items()}


def shared_context(model, windows=16):
    """``(long_model, hop)``: one pass of ``long_model`` gives ``windows`` neighbouring windows.

    A context model's convolutions are "valid", so the context of neighbouring windows
    overlaps and the windowed scheme recomputes it (M4: 147443 input samples for 16389 output
    samples). Shifting the input by a multiple of ``2**num_layers`` shifts every feature map
    by whole samples, so a model with ``(windows - 1) * hop`` more samples at both ends,
    ``hop = 2**num_layers * (output_frames // 2**num_layers)``, computes exactly the windows
    that start at multiples of ``hop``: ``separate_signal(long_model, mix, hop=windows * hop)``
    equals ``separate_signal(model, mix, hop=hop)`` at a fraction of the cost. The long model
    holds copies of ``model``'s weights.
    """
    if not model.model_config["context"]:
        raise ValueError("only context models (context=True) share context between windows")
    hop = shared_hop(model)
    return rebuild(model, num_frames=model.outputs[0].shape[1] + (windows - 1) * hop), hop


def shared_hop(model):
    """The window grid of ``shared_context``: the output length, down to a multiple of ``2**num_layers``."""
    block = 2 ** model.model_config["num_layers"]
    return block * (model.outputs[0].shape[1] // block)
