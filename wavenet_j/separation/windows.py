"""Whole-signal separation by windows, as the original's ``predict_track``, in TensorFlow ops.

Written with TF ops on dynamic shapes so the same function runs eagerly, inside a compiled
``tf.function`` and inside an exported SavedModel: the exported model gives the same numbers
as the project's own separation by construction.
"""
import tensorflow as tf


def window_starts(length, output_frames):
    """Output windows tile the signal from the start; the last is moved back to end at the end.

    Where windows overlap (only the last), the last one's samples are kept, as the original's
    in-place writes did. A signal shorter than one window is zero-padded to one.
    """
    length = tf.maximum(length, output_frames)
    count = (length + output_frames - 1) // output_frames
    return tf.minimum(tf.range(count) * output_frames, length - output_frames)


def separate_signal(model, mix, batch_windows=8):
    """``mix`` ``[T, C]`` at the model's rate and channels -> ``{source: [T, C]}``.

    Each output window gets its input context around it (zeros beyond the signal's ends).
    Windows are cut and run ``batch_windows`` at a time, so memory stays bounded for long
    signals.
    """
    input_frames, output_frames = model.input_shape[1], model.outputs[0].shape[1]
    length = tf.shape(mix)[0]
    context = (input_frames - output_frames) // 2
    padded_length = tf.maximum(length, output_frames)
    padded = tf.pad(mix, [[context, input_frames - output_frames - context + padded_length - length], [0, 0]])
    starts = window_starts(length, output_frames)
    count = tf.shape(starts)[0]
    batches = (count + batch_windows - 1) // batch_windows
    starts = tf.pad(starts, [[0, batches * batch_windows - count]], constant_values=0)
    offsets = tf.range(input_frames)

    def run_batch(batch_starts):
        windows = tf.gather(padded, batch_starts[:, None] + offsets[None, :])
        return {name: tf.cast(estimate, mix.dtype) for name, estimate in model(windows, training=False).items()}

    outputs = tf.map_fn(
        run_batch, tf.reshape(starts, [batches, batch_windows]),
        fn_output_signature={name: tf.TensorSpec([batch_windows, output_frames, mix.shape[-1]], mix.dtype)
                             for name in model.output})
    stitched = {}
    for name, windows in outputs.items():
        windows = tf.reshape(windows, [-1, output_frames, tf.shape(mix)[1]])[:count]
        head = tf.reshape(windows[:-1], [-1, tf.shape(mix)[1]])[:padded_length - output_frames]
        stitched[name] = tf.concat([head, windows[-1]], axis=0)[:length]
    return stitched
