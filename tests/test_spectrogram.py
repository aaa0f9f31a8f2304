"""The original's spectrogram U-Net: shapes, its STFT, original checkpoints, both losses, saving,
separation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf1_reference import save_original_checkpoint
from wavenet_j.configs import ConfigError, complete_config, resolve_config
from wavenet_j.interop import CheckpointMismatch, export_model, import_original_checkpoint, load_separator
from wavenet_j.models import build_separator, get_padding
from wavenet_j.models.spectrogram import STFT, InverseSTFT, source_magnitudes
from wavenet_j.separation import separate_track
from wavenet_j.training.loop import example_losses, model_and_optimizer, train_step_fn

# 8 STFT frames; every level halves frames and bins exactly.
SMALL = {
    "network": "unet_spectrogram",
    "mono_downmix": True,
    "num_layers": 3,
    "num_initial_filters": 4,
    "num_frames": 768 * 7 + 1024,
    "expected_sr": 8192,
}


def audio(shape, seed=1, scale=1.0):
    return np.random.default_rng(seed).uniform(-scale, scale, shape).astype(np.float32)


def test_shapes_layers_and_the_named_configs():
    model = build_separator(complete_config(SMALL))
    assert model.input_shape == (None, 6400, 1)
    assert [tuple(out.shape) for out in model.outputs] == [(None, 6400, 1)] * 2
    mix = audio((2, 6400, 1))
    assert {s: tuple(m.shape) for s, m in source_magnitudes(model, mix).items()} == {
        "accompaniment": (2, 8, 513),
        "vocals": (2, 8, 513),
    }
    # One U-Net per source: encoder level i has 4 * 2**i filters, the mask one.
    assert model.get_layer("encoder_vocals_conv2").kernel.shape == (5, 5, 8, 16)
    assert model.get_layer("decoder_accompaniment_deconv0").kernel.shape == (5, 5, 4, 8 + 8)
    assert model.get_layer("output_vocals_mask").kernel.shape == (5, 5, 1, 4 + 4)
    dropouts = sorted(layer.name for layer in model.layers if isinstance(layer, keras.layers.Dropout))
    assert dropouts == [
        f"decoder_{s}_dropout{level}" for s in ("accompaniment", "vocals") for level in (0, 1)
    ]

    for name in ("unet_spectrogram", "unet_spectrogram_l1"):
        config = resolve_config(name)
        assert get_padding(config) == (98560, 98560)  # 128 STFT frames
        assert (config["num_layers"], config["num_initial_filters"], config["expected_sr"]) == (6, 16, 8192)
        assert config["batch_size"] == 4 and config["schedule"] == resolve_config("M1")["schedule"]
    assert resolve_config("unet_spectrogram")["raw_audio_loss"]
    assert not resolve_config("unet_spectrogram_l1")["raw_audio_loss"]
    assert build_separator(resolve_config("unet_spectrogram")).count_params() == 19649634


def test_inverse_stft_of_the_stft_is_the_signal_away_from_the_edges():
    signal = audio((2, 6400, 1), scale=0.8)
    restored = InverseSTFT()(STFT()(signal)).numpy()
    assert restored.shape == signal.shape
    # The 256 samples at each end lie in one frame only, where the windows do not add up to one.
    np.testing.assert_allclose(restored[:, 256:-256], signal[:, 256:-256], atol=1e-5)
    assert np.abs(restored[:, :256] - signal[:, :256]).max() > 1e-2


def test_a_checkpoint_of_a_wider_spectrogram_u_net_names_the_variable(tmp_path):
    config = complete_config(dict(SMALL, num_layers=2))
    prefix, _ = save_original_checkpoint(config, tmp_path, audio((1, config["num_frames"], 1)))
    wider = config.replace(num_initial_filters=config["num_initial_filters"] + 1)
    with pytest.raises(
        CheckpointMismatch, match="'separator/conv2d/kernel' has shape .* 'encoder_[a-z]+_conv0'"
    ):
        import_original_checkpoint(build_separator(wider), prefix)


def synthetic_batch(config, batch=4):
    """Tones for vocals, quieter noise for the accompaniment: a batch the network can learn to separate."""
    t = np.arange(config["num_frames"]) / config["expected_sr"]
    frequencies = np.random.default_rng(2).uniform(200, 1500, (batch, 1, 1))
    targets = {
        "vocals": (0.5 * np.sin(2 * np.pi * frequencies * t[:, None])).astype(np.float32),
        "accompaniment": audio((batch, config["num_frames"], 1), seed=3, scale=0.2),
    }
    return tf.constant(targets["vocals"] + targets["accompaniment"]), {
        s: tf.constant(v) for s, v in targets.items()
    }


@pytest.mark.parametrize("raw_audio_loss", [True, False])
@pytest.mark.slow
def test_training_steps_lower_the_loss(raw_audio_loss):
    config = resolve_config(
        [], dict(SMALL, raw_audio_loss=raw_audio_loss, batch_size=4, schedule=[[1, 1e-3]])
    )
    model, optimizer = model_and_optimizer(config)
    mix, targets = synthetic_batch(config)
    step = train_step_fn(model, optimizer, config, 4, tf.distribute.get_strategy())
    losses = [float(step(mix, targets)) for _ in range(30)]
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), losses
    if not raw_audio_loss:  # the loss is the original's: L1 between the targets' and the estimated magnitudes
        magnitudes = source_magnitudes(model, mix, training=False)
        expected = np.mean(
            [
                np.mean(np.abs(np.abs(tf.signal.stft(targets[s][..., 0], 1024, 768)) - magnitudes[s]))
                for s in config["source_names"]
            ]
        )
        np.testing.assert_allclose(
            np.mean(example_losses(model, mix, targets, config, training=False)), expected, rtol=1e-5
        )


def test_keras_round_trip_and_separation(tmp_path):
    model = build_separator(complete_config(SMALL))
    for weight in model.non_trainable_weights:  # moving statistics that are not the initial ones
        weight.assign(np.random.default_rng(4).uniform(0.5, 1.5, weight.shape))
    path = tmp_path / "spectrogram.keras"
    model.save(path)
    loaded = load_separator(path)
    assert loaded.model_config == model.model_config
    mix = audio((2, 6400, 1))
    for source, expected in model(mix, training=False).items():
        np.testing.assert_array_equal(loaded(mix, training=False)[source], expected, err_msg=source)
    stems = separate_track(loaded, audio((20000, 2), scale=0.5), 8192)
    assert sorted(stems) == ["accompaniment", "vocals"]
    assert all(stem.shape == (20000, 2) and np.all(np.isfinite(stem)) for stem in stems.values())
    saved = export_model(loaded, tmp_path / "saved", "savedmodel")
    exported = tf.saved_model.load(str(saved))
    served = exported.serve(tf.constant(mix))
    for source, expected in model(mix, training=False).items():
        np.testing.assert_allclose(served[source].numpy(), expected, atol=1e-5, err_msg=source)
    with pytest.raises(ConfigError, match="cannot be exported to TFLite"):
        export_model(loaded, tmp_path / "model.tflite", "tflite")
    assert not (tmp_path / "model.tflite").exists()


@pytest.mark.slow
def test_the_trainer_trains_and_validates_with_the_magnitude_loss(tmp_path):
    from wavenet_j.data.pipeline import get_dataset
    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.training import Trainer

    root = make_toy_corpus(tmp_path / "musdb", train=4, test=1, seconds=4.0, seed=0)
    config = resolve_config(
        ["unet_spectrogram_l1", "tiny"],
        dict(
            SMALL,
            batch_size=4,
            epoch_it=6,
            max_epochs=1,
            musdb_path=str(root),
            data_path=str(tmp_path / "data"),
            model_base_dir=str(tmp_path / "runs"),
            log_dir=str(tmp_path / "logs"),
        ),
    )
    trainer = Trainer(config, "run")
    result = trainer.fit()
    assert (
        result["steps"] == 12 and load_separator(result["best_model"]).model_config["raw_audio_loss"] is False
    )
    valid = get_dataset(config, "valid")
    expected = np.concatenate(
        [
            example_losses(trainer.model, mix, targets, config, training=False).numpy()
            for mix, targets in valid
        ]
    )
    np.testing.assert_allclose(trainer.validate(valid)[0], np.mean(expected), rtol=1e-5)
