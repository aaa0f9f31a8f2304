"""Separating a signal of any length in segments, so memory holds a segment, not the song.

A segment's estimates equal those of the whole signal separated at once: segments start on the
window grid and are given their windows' context from the signal on both sides as input only
(no output is computed twice), and the last one reaches back far enough for the original's last
window, moved back to end at the end. Resampling runs as a stream (soxr), which gives the same
samples as resampling all at once.
"""

import collections
from collections.abc import Iterable, Iterator
from typing import Callable, NamedTuple

import keras

import numpy as np
import soxr

from wavenet_j import backend
from wavenet_j.audio import to_model_channels
from wavenet_j.models import multi_stage, rebuild
from wavenet_j.separation.options import SeparationOptions
from wavenet_j.separation.windows import separate_windows, shared_context, shared_hop

PASS_BYTES = 400 * 2**20  # one context-sharing pass's activations, as shared_windows bounds them: M4 gets
# 32 windows, and separating 10 minutes peaks at 1.41 GB (1.27 GB with 16, 1.56 GB with 43)
MAX_SHARED_WINDOWS = 64  # a cap on one pass's length, whatever the budget
_PLANS = collections.OrderedDict()  # the last few compiled plans: building and compiling one takes seconds


class Plan(NamedTuple):
    """How one model with given options separates: a compiled pass and its window grid."""

    # ([T, C] NumPy, left, right) at the model's rate -> {source: [T - left - right, C]}
    separate: Callable
    grid: int  # windows start at multiples of this: the output length, or the aligned hop
    margin: int  # input samples a segment needs beyond each of its ends: the context, on the grid
    last_window: int  # how far back the last segment must reach (the original's grid), else 0
    unit: int  # output samples one model call covers


def shared_windows(model, budget=PASS_BYTES):
    """How many windows one pass of a context model computes: as many as keep the pass's activations
    (every layer's output, an upper bound on what is live at once) within ``budget`` bytes."""
    per_sample = (
        4 * sum(int(np.prod(layer.output.shape[1:])) for layer in model.layers) / model.input_shape[1]
    )
    windows = int((budget / per_sample - model.input_shape[1]) // shared_hop(model)) + 1
    return min(max(windows, 1), MAX_SHARED_WINDOWS)


def separation_plan(model: keras.Model, options: SeparationOptions) -> Plan:
    """The compiled ``Plan`` for ``model`` with ``options`` (``SeparationOptions``; cached for the last
    few).

    One model call per batch of windows (``wavenet_j.backend.predict_fn``), the same path on every
    backend. Compilers that compile every batch shape anew (XLA: TensorFlow's ``jit_compile``, JAX)
    get whole batches. Rebuilt networks (another precision, a long context-sharing model) hold
    copies of the weights; they are refreshed at every call, so a model trained further separates
    with its current weights.
    """
    share_context = options.windows == "shared" and model.model_config["context"]
    batch_windows, jit_compile = options.batch_windows, options.jit_compile
    key = (id(model), options.stages, options.precision, share_context, batch_windows, jit_compile)
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
        count = shared_windows(model)
        network, grid = shared_context(network, count)
        hop, batch_windows, unit = count * grid, 1, count * grid
        margin = grid * -(-(context + output_frames - grid) // grid)  # a window's input reaches past its hop
        last_window = 0
    else:
        grid, unit, last_window = output_frames, batch_windows * output_frames, output_frames
        margin = grid * -(-context // grid)
    if options.precision:
        network = rebuild(network, options.precision)
    copy = network if network is not model else None
    if options.stages > 1:
        network = multi_stage(network, options.stages)
    predict = backend.predict_fn(network, jit_compile)
    whole_batches = jit_compile or backend.current() == "jax"
    frames = network.input_shape[1], network.outputs[0].shape[1]

    def separate(mix, left, right):
        return separate_windows(predict, mix, *frames, batch_windows, hop, (left, right), whole_batches)

    plan = Plan(separate, grid, margin, last_window, unit)
    _PLANS[key] = model, copy, plan
    while len(_PLANS) > 4:
        _PLANS.popitem(last=False)
    return plan


def _to_mix_channels(estimate, channels):
    """A mono model's estimate is duplicated; a stereo model's is averaged for a mono mix."""
    if estimate.shape[1] == channels:
        return estimate
    return (
        np.repeat(estimate, channels, axis=1)
        if estimate.shape[1] == 1
        else estimate.mean(axis=1, keepdims=True)
    )


class _Resampler:
    """soxr's stream, or nothing when the rates agree."""

    def __init__(self, rate_in, rate_out, channels):
        self.stream = (
            soxr.ResampleStream(rate_in, rate_out, channels, dtype="float32", quality="HQ")
            if rate_in != rate_out
            else None
        )

    def __call__(self, chunk, last):
        return chunk if self.stream is None else self.stream.resample_chunk(chunk, last=last)


class _MixReader:
    """The mix's blocks, checked, converted to the model's channels and resampled to its rate, held
    from a position on: a segment and its context, never the song."""

    def __init__(self, blocks, sr, rate, channels):
        self.blocks, self.sr, self.channels = iter(blocks), sr, channels
        self.resample = _Resampler(sr, rate, channels)
        self.buffer, self.start = np.zeros((0, channels), np.float32), 0  # buffer[0] is sample self.start
        self.ended, self.mix_channels, self.length = False, None, 0  # length: samples read, at sr

    @property
    def end(self):
        return self.start + len(self.buffer)

    def read_to(self, position):
        """Read until ``position`` samples (at the model's rate) are in, or the mix ends."""
        while not self.ended and self.end < position:
            block = next(self.blocks, None)
            self.ended = block is None
            if self.ended:
                if not self.length:
                    raise ValueError("the mix holds no samples")
                chunk = self.resample(np.zeros((0, self.channels), np.float32), last=True)
            else:
                chunk = self.resample(to_model_channels(self._checked(block), self.channels), last=False)
            self.buffer = np.concatenate([self.buffer, chunk.astype(np.float32, copy=False)])

    def _checked(self, block):
        block = np.asarray(block, dtype=np.float32)
        self.mix_channels = self.mix_channels or block.shape[1]
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            at = self.length + int(np.argmin(finite))
            raise ValueError(
                f"the mix has a NaN or infinite sample at sample {at} (second {at / self.sr:.2f})"
            )
        self.length += len(block)
        return block

    def drop_before(self, position):
        position = max(position, self.start)
        self.buffer, self.start = self.buffer[position - self.start :], position


def separate_blocks(
    model: keras.Model,
    blocks: Iterable[np.ndarray],
    sr: int,
    options: SeparationOptions = SeparationOptions(),
) -> Iterator[dict[str, np.ndarray]]:
    """Separate a mix given as consecutive ``[n, channels]`` float32 blocks at ``sr``.

    Yields ``{source: [m, channels]}`` blocks at ``sr`` in order, as many samples in all as the
    mix (``options``: ``SeparationOptions``).
    """
    config = model.model_config
    plan = separation_plan(model, options)
    segment = options.segment_seconds * config["expected_sr"]
    span = max(round(segment / plan.unit), 1) * plan.unit  # whole model calls
    reach = plan.margin + plan.last_window  # signal kept before a segment: the last one may reach back
    mix = _MixReader(blocks, sr, config["expected_sr"], config["num_channels"])
    resample_out = {
        name: _Resampler(config["expected_sr"], sr, config["num_channels"]) for name in model.output
    }
    start, emitted = 0, 0
    while True:
        end = start + span
        ahead = end + span // 2 + plan.margin  # a rest shorter than half a segment joins this one
        mix.read_to(ahead)
        final = mix.end < ahead
        outputs_from = start
        if final:
            end = mix.end
            if plan.last_window:  # the original's last window ends at the end: start on the grid before it
                outputs_from = max(min(start, plan.grid * ((end - plan.last_window) // plan.grid)), 0)
        first, stop = max(outputs_from - plan.margin, 0), min(end + plan.margin, mix.end)
        estimates = plan.separate(
            mix.buffer[first - mix.start : stop - mix.start], outputs_from - first, stop - end
        )
        out = {
            name: _to_mix_channels(
                resample_out[name](estimate[start - outputs_from :], last=final), mix.mix_channels
            )
            for name, estimate in estimates.items()
        }
        count = len(next(iter(out.values())))
        if mix.ended:  # the mix's length is known: stop exactly there
            count = min(count, mix.length - emitted)
        if final and emitted + count < mix.length:  # resampling may come out a sample short
            out = {
                name: np.pad(block, [(0, mix.length - emitted - len(block)), (0, 0)])
                for name, block in out.items()
            }
            count = mix.length - emitted
        emitted += count
        yield {name: block[:count] for name, block in out.items()}
        if final:
            return
        mix.drop_before(end - reach)
        start = end
