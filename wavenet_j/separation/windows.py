"""Whole-signal separation by windows, as the original's ``predict_track``: NumPy bookkeeping around
one compiled model call per batch of windows, the same on every backend.

``window_layout`` is the window grid's arithmetic, written once for NumPy and for the TensorFlow graph
of ``wavenet_j.separation.graph`` (the exported SavedModel), so both cut a signal alike.
"""

from typing import NamedTuple

import numpy as np

from wavenet_j.models import rebuild


class Layout(NamedTuple):
    """Where the windows of a signal lie. Window ``i < count`` outputs from sample
    ``start = min(i * step, last)`` (counted from the end of the given context) to the next window's
    start; its input is mix samples ``first + start`` to ``first + start + input_frames``, zeros
    outside the mix (``after`` of them past its end at most)."""

    length: int  # output samples: the mix less its given context
    count: int
    step: int
    last: int
    first: int  # where window 0's input begins in the mix
    after: int

    def starts(self):
        """The windows' output starts, in NumPy."""
        return np.minimum(np.arange(self.count) * self.step, self.last)


def window_layout(samples, input_frames, output_frames, hop=None, given=(0, 0), maximum=max):
    """The ``Layout`` of a ``samples``-long mix whose first and last ``given`` samples are context only.

    ``hop=None`` is the original's rule: windows tile the signal from the start, the last is moved
    back to end at the end, and where they overlap the last one's samples are kept (as the original's
    in-place writes did); a signal shorter than one window is zero-padded to one. With a ``hop`` (at
    most ``output_frames``) windows start at every multiple of it and the signal is zero-padded past
    its end to fill the last one. ``maximum`` is ``tf.maximum`` where ``samples`` is a graph's tensor.
    """
    if hop is not None and not 0 < hop <= output_frames:
        raise ValueError(f"hop = {hop} must be in [1, {output_frames}], the model's output length")
    left, right = given
    length = samples - left - right
    if hop is None:
        step = output_frames
        padded = maximum(length, step)
        count, last = (padded + step - 1) // step, padded - step
    else:
        step = hop
        count = (maximum(length, 1) + step - 1) // step
        last = (count - 1) * step
    first = left - (input_frames - output_frames) // 2
    return Layout(length, count, step, last, first, maximum(last + input_frames - (samples - first), 0))


def window_starts(length, output_frames, hop=None):
    """Where the output windows of a ``length``-sample signal start (see ``window_layout``)."""
    return window_layout(length, output_frames, output_frames, hop).starts()


def separate_windows(
    predict, mix, input_frames, output_frames, batch_windows=8, hop=None, given=(0, 0), whole_batches=False
):
    """``mix`` ``[T, C]`` (NumPy) at the model's rate and channels -> ``{source: [T - sum(given), C]}``.

    ``predict`` is ``wavenet_j.backend.predict_fn`` of a model taking ``input_frames`` and giving
    ``output_frames`` samples. Each output window gets its input context around it and contributes
    the samples up to the next window's start (see ``window_layout`` for ``hop`` and ``given``:
    windows see the given samples as context, and zeros beyond them). Windows run ``batch_windows``
    at a time, so memory holds the signal, one batch and the result, however long the signal.
    ``whole_batches`` pads the last batch with repeats of its last window, whose outputs are dropped,
    for a compiler that compiles every batch shape anew (XLA).
    """
    layout = window_layout(len(mix), input_frames, output_frames, hop, given)
    starts = layout.starts()
    ends = np.append(starts[1:], layout.length)
    padded = np.pad(mix[max(layout.first, 0) :], [(max(-layout.first, 0), layout.after), (0, 0)])
    results = {}
    for batch in range(0, len(starts), batch_windows):
        batch_starts = starts[batch : batch + batch_windows]
        fill = batch_windows - len(batch_starts) if whole_batches else 0
        chosen = np.pad(batch_starts, (0, fill), mode="edge")  # filled with repeats of the last window
        windows = np.stack([padded[s : s + input_frames] for s in chosen])
        for name, estimates in predict(windows).items():
            result = results.setdefault(name, np.empty((layout.length, mix.shape[1]), mix.dtype))
            # zip stops at the batch's own windows: the repeats filling it are dropped
            for start, end, estimate in zip(batch_starts, ends[batch : batch + batch_windows], estimates):
                result[start:end] = estimate[: end - start]
    return results


def shared_context(model, windows=16):
    """``(long_model, hop)``: one pass of ``long_model`` gives ``windows`` neighbouring windows.

    A context model's convolutions are "valid", so the context of neighbouring windows
    overlaps and the windowed scheme recomputes it (M4: 147443 input samples for 16389 output
    samples). Shifting the input by a multiple of ``2**num_layers`` shifts every feature map
    by whole samples, so a model with ``(windows - 1) * hop`` more samples at both ends,
    ``hop = 2**num_layers * (output_frames // 2**num_layers)``, computes exactly the windows
    that start at multiples of ``hop``: separating with ``long_model`` at ``hop=windows * hop``
    equals separating with ``model`` at ``hop=hop`` at a fraction of the cost. The long model
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
