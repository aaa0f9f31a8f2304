"""The training objectives, in ``keras.ops``: one definition for every backend's training step."""

from keras import ops

from wavenet_j.models import stage_estimates
from wavenet_j.models.spectrogram import magnitude, source_magnitudes


def mse_per_example(target, estimate):
    """MSE of each example over samples and channels, in float32 whatever the model computes in."""
    return ops.mean(ops.square(ops.cast(estimate, "float32") - target), axis=[1, 2])


def _mse_over_sources(targets, estimates, sources):
    """``mse_per_example`` averaged over the sources."""
    return sum(mse_per_example(targets[s], estimates[s]) for s in sources) / len(sources)


def _magnitude_l1_over_sources(model, mix, targets, sources, training):
    """The original's spectrogram loss (``raw_audio_loss=False``): mean absolute difference between each
    target's magnitude spectrogram and the model's estimate of it, averaged over sources."""
    estimates = source_magnitudes(model, mix, training=training)
    return sum(
        ops.mean(ops.abs(magnitude(targets[s]) - ops.cast(estimates[s], "float32")), axis=[1, 2])
        for s in sources
    ) / len(sources)


def separation_loss(model, mix, targets, config, training, stages=None):
    """Per-example separation loss, in training and validation alike: the MSE summed over progressive
    stages (``stages``: their estimates, where the caller has them already), or with
    ``raw_audio_loss=False`` L1 on magnitude spectrograms."""
    sources = config["source_names"]
    if not config["raw_audio_loss"]:
        return _magnitude_l1_over_sources(model, mix, targets, sources, training)
    stages = stages or stage_estimates(model, mix, config["num_stages"], training=training)
    return sum(_mse_over_sources(targets, estimates, sources) for estimates in stages)


def example_losses(model, mix, targets, config, training=True):
    """Per-example training loss: ``separation_loss`` plus, with waveform losses, the identity loss."""
    loss = separation_loss(model, mix, targets, config, training)
    if config["identity_loss_weight"] and config["raw_audio_loss"]:
        # Each clean source through the network should come back as itself in its own output.
        sources = config["source_names"]
        identity = {s: model(targets[s], training=training)[s] for s in sources}
        loss += config["identity_loss_weight"] * _mse_over_sources(targets, identity, sources)
    return loss


def validation_losses(model, mix, targets, config):
    """``(per-example validation loss, {source: per-example MSE of the last stage})``; the validation
    loss is the training objective without the identity term."""
    stages = stage_estimates(model, mix, config["num_stages"], training=False)
    total = separation_loss(model, mix, targets, config, training=False, stages=stages)
    return total, {s: mse_per_example(targets[s], stages[-1][s]) for s in config["source_names"]}
