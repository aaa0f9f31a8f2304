"""``separate_track``: any mix, at any rate and channel count, in; stems of the same shape out."""
import collections

import numpy as np
import soxr
import tensorflow as tf

from wavenet_j.configs import complete_config
from wavenet_j.models import multi_stage, rebuild
from wavenet_j.separation.windows import separate_signal, shared_context

SHARED_WINDOWS = 32  # per pass of a context model: M4 computes 0.24x the FLOPs of separate windows (0.26x with 16)
_PASSES = collections.OrderedDict()  # the last few compiled passes: building and tracing one takes seconds


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


def separate_track(model, mix, sr, model_config, stages=1, batch_windows=8, precision=None, share_context=True):
    """``{source: [samples, channels]}`` with exactly the shape and rate of ``mix``.

    The mix is resampled to the model's rate (soxr, high quality), converted to its channels,
    separated window by window (``separate_signal``), optionally through ``stages`` progressive
    passes, then brought back to ``sr``, the mix's length and its channel count (a mono
    model's estimate is duplicated; a stereo model's is averaged for a mono mix).

    Context models share the context of neighbouring windows (``shared_context``), several
    times faster, with windows starting at multiples of ``2**num_layers`` instead of the
    original's multiples of the output length; ``share_context=False`` runs the original's
    ``predict_track`` windows exactly. ``precision="mixed_bfloat16"`` computes in bf16
    (opt-in: faster where the processor has bf16 arithmetic, with slightly different numbers).
    """
    config = complete_config(model_config)
    mix = np.asarray(mix, dtype=np.float32)
    if mix.ndim != 2 or mix.shape[0] == 0:
        raise ValueError(f"mix must be [samples, channels] with samples > 0, got shape {mix.shape}")
    if not np.all(np.isfinite(mix)):
        raise ValueError("mix has NaN or infinite samples")
    rate = config["expected_sr"]
    audio = _to_model_channels(mix, config["num_channels"])
    if sr != rate:
        audio = soxr.resample(audio, sr, rate, quality="HQ").astype(np.float32)
    separate = _separation_pass(model, stages, precision, share_context and config["context"], batch_windows)
    estimates = separate(tf.constant(audio))
    del audio
    results = {}
    for name in list(estimates):
        estimate = estimates.pop(name).numpy()
        if sr != rate:
            estimate = soxr.resample(estimate, rate, sr, quality="HQ")
        estimate = estimate[:len(mix)]
        estimate = np.pad(estimate, [(0, len(mix) - len(estimate)), (0, 0)])
        if estimate.shape[1] != mix.shape[1]:
            estimate = np.repeat(estimate, mix.shape[1], axis=1) if estimate.shape[1] == 1 \
                else estimate.mean(axis=1, keepdims=True)
        results[name] = estimate.astype(np.float32, copy=False)
    return results


def _separation_pass(model, stages, precision, share_context, batch_windows):
    """A compiled ``mix [T, C] -> {source: [T, C]}`` for ``model`` with these options.

    Rebuilt networks (another precision, a long context-sharing model) hold copies of the
    weights; they are refreshed at every call, so a model trained further separates with its
    current weights.
    """
    key = (id(model), stages, precision, share_context, batch_windows)
    if key in _PASSES and _PASSES[key][0] is model:
        _PASSES.move_to_end(key)
        _, copy, separate = _PASSES[key]
        if copy is not None:
            copy.set_weights(model.get_weights())
        return separate
    network, hop = model, None
    if share_context:
        network, hop = shared_context(network, SHARED_WINDOWS)
        hop, batch_windows = SHARED_WINDOWS * hop, 1
    if precision:
        network = rebuild(network, precision)
    copy = network if network is not model else None
    if stages > 1:
        network = multi_stage(network, stages)
    separate = tf.function(lambda mix: separate_signal(network, mix, batch_windows, hop), input_signature=[
        tf.TensorSpec([None, model.input_shape[-1]], tf.float32)])
    _PASSES[key] = model, copy, separate
    while len(_PASSES) > 4:
        _PASSES.popitem(last=False)
    return separate
