"""Separating a signal of any length in segments, so memory holds a segment, not the song.

A segment's estimates equal those of the whole signal separated at once: segments start on the
window grid, each is given its windows' context from the signal on both sides, and the last
one reaches back far enough for the original's last window, moved back to end at the end.
Resampling runs as a stream (soxr), which gives the same samples as resampling all at once.
"""
import collections
from typing import Callable, NamedTuple

import numpy as np
import soxr
import tensorflow as tf

from wavenet_j.configs import complete_config
from wavenet_j.models import multi_stage, rebuild
from wavenet_j.separation.windows import separate_signal, shared_context

SHARED_WINDOWS = 16  # per pass of a context model: M4 computes 0.26x the FLOPs of separate windows; more
# windows per pass save little more (0.24x at 32) and cost memory (0.1 GB more at 24: 10 minutes of M4 near 1.5 GB)
_PLANS = collections.OrderedDict()  # the last few compiled plans: building and tracing one takes seconds


class Plan(NamedTuple):
    """How one model with given options separates: a compiled pass and its window grid."""

    separate: Callable  # [T, C] at the model's rate -> {source: [T, C]}, compiled
    grid: int  # windows start at multiples of this: the output length, or the aligned hop
    margin: int  # input samples a segment needs beyond each of its ends: the context, on the grid
    last_window: int  # how far back the last segment must reach (the original's grid), else 0
    unit: int  # output samples one model call covers


WINDOWS = ("shared", "original")  # the window grids a context model can separate on (see separate_track)


def separation_plan(model, stages=1, precision=None, windows="shared", batch_windows=8, jit_compile=False):
    """The compiled ``Plan`` for ``model`` with these options (cached for the last few).

    Rebuilt networks (another precision, a long context-sharing model) hold copies of the
    weights; they are refreshed at every call, so a model trained further separates with its
    current weights.
    """
    if windows not in WINDOWS:
        raise ValueError(f"windows = {windows!r} must be one of {list(WINDOWS)}")
    share_context = windows == "shared" and model.model_config["context"]
    key = (id(model), stages, precision, share_context, batch_windows, jit_compile)
    if key in _PLANS and _PLANS[key][0] is model:
        _PLANS.move_to_end(key)
        _, copy, plan = _PLANS[key]
        if copy is not None:
            copy.set_weights(model.get_weights())
        return plan
    input_frames, output_frames = model.input_shape[1], model.outputs[0].shape[1]
    context = (input_frames - output_frames + 1) // 2
    network, hop = model, None
    if share_context:
        network, grid = shared_context(network, SHARED_WINDOWS)
        hop, batch_windows, unit = SHARED_WINDOWS * grid, 1, SHARED_WINDOWS * grid
        margin = grid * -(-(context + output_frames - grid) // grid)  # a window's input reaches past its hop
        last_window = 0
    else:
        grid, unit, last_window = output_frames, batch_windows * output_frames, output_frames
        margin = grid * -(-context // grid)
    if precision:
        network = rebuild(network, precision)
    copy = network if network is not model else None
    if stages > 1:
        network = multi_stage(network, stages)
    separate = tf.function(lambda mix: separate_signal(network, mix, batch_windows, hop, jit_compile), input_signature=[
        tf.TensorSpec([None, model.input_shape[-1]], tf.float32)])
    plan = Plan(separate, grid, margin, last_window, unit)
    _PLANS[key] = model, copy, plan
    while len(_PLANS) > 4:
        _PLANS.popitem(last=False)
    return plan


def _to_model_channels(mix, channels):
    """The original's rule: mono models take the channel mean; stereo models duplicate a mono mix."""
    if channels == 1:
        return mix.mean(axis=1, keepdims=True)
    if mix.shape[1] == 1:
        return np.repeat(mix, 2, axis=1)
    if mix.shape[1] != 2:
        raise ValueError(f"a stereo model cannot separate a mix with {mix.shape[1]} channels; "
                         f"downmix it to stereo or mono first")
    return mix


def _to_mix_channels(estimate, channels):
    """A mono model's estimate is duplicated; a stereo model's is averaged for a mono mix."""
    if estimate.shape[1] == channels:
        return estimate
    return np.repeat(estimate, channels, axis=1) if estimate.shape[1] == 1 else estimate.mean(axis=1, keepdims=True)


class _Resampler:
    """soxr's stream, or nothing when the rates agree."""

    def __init__(self, rate_in, rate_out, channels):
        self.stream = soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality="HQ") \
            if rate_in != rate_out else None

    def __call__(self, chunk, last):
        return chunk if self.stream is None else self.stream.resample_chunk(chunk, last=last)


def separate_blocks(model, blocks, sr, model_config, stages=1, batch_windows=8, precision=None, windows="shared",
                    segment_seconds=30.0, jit_compile=False):
    """Separate a mix given as consecutive ``[n, channels]`` float32 blocks at ``sr``.

    Yields ``{source: [m, channels]}`` blocks at ``sr`` in order, as many samples in all as the
    mix (see ``separate_track`` for the options).
    """
    config = complete_config(model_config)
    rate, channels = config["expected_sr"], config["num_channels"]
    plan = separation_plan(model, stages, precision, windows, batch_windows, jit_compile)
    units = max(round((segment_seconds * rate + 2 * plan.margin) / plan.unit), 2 * plan.margin // plan.unit + 1)
    span = units * plan.unit  # a segment's input: whole model calls
    reach = max(plan.margin, plan.last_window)  # signal looked at (and kept) beyond a segment's ends
    resample_in = _Resampler(sr, rate, channels)
    resample_out = {name: _Resampler(rate, sr, channels) for name in model.output}
    blocks, ended, mix_channels, length = iter(blocks), False, None, 0
    buffer, buffer_start, start, emitted = np.zeros((0, channels), np.float32), 0, 0, 0
    while True:
        first = max(start - plan.margin, 0)
        end = first + span - plan.margin  # on the grid: span and margin are
        ahead = end + reach + (span - 2 * plan.margin) // 2  # a shorter rest joins this segment
        while not ended and buffer_start + len(buffer) < ahead:
            block = next(blocks, None)
            ended = block is None
            if ended:
                if not length:
                    raise ValueError("the mix holds no samples")
                chunk = resample_in(np.zeros((0, channels), np.float32), last=True)
            else:
                block = np.asarray(block, dtype=np.float32)
                mix_channels = mix_channels or block.shape[1]
                finite = np.isfinite(block).all(axis=1)
                if not finite.all():
                    raise ValueError(f"the mix has a NaN or infinite sample at sample {length + int(np.argmin(finite))} "
                                     f"(second {(length + int(np.argmin(finite))) / sr:.2f})")
                length += len(block)
                chunk = resample_in(_to_model_channels(block, channels), last=False)
            buffer = np.concatenate([buffer, chunk.astype(np.float32, copy=False)])
        final = ended and buffer_start + len(buffer) <= ahead
        if final:
            end = buffer_start + len(buffer)
            if plan.last_window:  # the original's last window ends at the end: start on the grid before it
                first = max(min(first, plan.grid * ((end - plan.last_window) // plan.grid)), 0)
        segment = buffer[first - buffer_start:(end if final else end + plan.margin) - buffer_start]
        estimates = plan.separate(tf.constant(segment))
        out = {}
        for name, estimate in estimates.items():
            estimate = resample_out[name](estimate.numpy()[start - first:end - first], last=final)
            out[name] = _to_mix_channels(estimate, mix_channels)
        count = len(next(iter(out.values())))
        if ended:  # the mix's length is known: stop exactly there
            count = min(count, length - emitted)
        if final and emitted + count < length:  # resampling may come out a sample short
            out = {name: np.pad(block, [(0, length - emitted - len(block)), (0, 0)]) for name, block in out.items()}
            count = length - emitted
        emitted += count
        yield {name: block[:count] for name, block in out.items()}
        if final:
            return
        keep_from = max(end - reach, 0)
        buffer = buffer[keep_from - buffer_start:]
        start, buffer_start = end, keep_from
