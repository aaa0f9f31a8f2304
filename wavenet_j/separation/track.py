"""``separate_track``: any mix, at any rate and channel count, in; stems of the same shape out."""
import numpy as np
import soxr
import tensorflow as tf

from wavenet_j.configs import complete_config
from wavenet_j.models import multi_stage, with_precision
from wavenet_j.separation.windows import separate_signal


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


def separate_track(model, mix, sr, model_config, stages=1, batch_windows=8, precision=None):
    """``{source: [samples, channels]}`` with exactly the shape and rate of ``mix``.

    The mix is resampled to the model's rate (soxr, high quality), converted to its channels,
    separated window by window as the original's ``predict_track`` (``separate_signal``),
    optionally through ``stages`` progressive passes, then brought back to ``sr``, the mix's
    length and its channel count (a mono model's estimate is duplicated; a stereo model's is
    averaged for a mono mix). ``precision="mixed_bfloat16"`` computes in bf16 (opt-in: faster
    where the processor has bf16 arithmetic, with slightly different numbers).
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
    network = with_precision(model, precision) if precision else model
    network = multi_stage(network, stages) if stages > 1 else network
    estimates = separate_signal(network, tf.constant(audio), batch_windows)
    results = {}
    for name, estimate in estimates.items():
        estimate = estimate.numpy()
        if sr != rate:
            estimate = soxr.resample(estimate, rate, sr, quality="HQ")
        estimate = estimate[:len(mix)]
        estimate = np.pad(estimate, [(0, len(mix) - len(estimate)), (0, 0)])
        if estimate.shape[1] != mix.shape[1]:
            estimate = np.repeat(estimate, mix.shape[1], axis=1) if estimate.shape[1] == 1 \
                else estimate.mean(axis=1, keepdims=True)
        results[name] = estimate.astype(np.float32)
    return results
