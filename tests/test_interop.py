"""Original TF1 Wave-U-Net checkpoints load into our models and give the original's outputs."""

import json
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from tf1_reference import save_original_checkpoint
from networks import SMALL_NET
from wavenet_j.configs import ConfigError, complete_config, resolve_config
from wavenet_j.interop import CheckpointMismatch, from_original_config, import_original_checkpoint
from wavenet_j.models import build_separator, get_padding

SMALL = dict(SMALL_NET, num_initial_filters=6)

# Together these cover every option the original has.
CONFIGS = {
    "mono_direct_tanh_linear": dict(SMALL, num_frames=64, mono_downmix=True, output_type="direct"),
    "context_learned_difference_linear_act": dict(
        SMALL, num_frames=40, context=True, upsampling="learned", output_activation="linear"
    ),
    "context_multi_instrument": dict(SMALL, num_frames=40, context=True, task="multi_instrument"),
    "learned_same_multi_direct_linear_act": dict(
        SMALL,
        num_frames=64,
        upsampling="learned",
        task="multi_instrument",
        output_type="direct",
        output_activation="linear",
    ),
    "context_mono_direct": dict(
        SMALL,
        num_frames=33,
        context=True,
        mono_downmix=True,
        output_type="direct",
        filter_size=7,
        input_filter_size=7,
        output_filter_size=3,
    ),
    # The original's spectrogram U-Net: 8 STFT frames, every level halves frames and bins exactly.
    "spectrogram_two_layers_voice": {
        "network": "unet_spectrogram",
        "mono_downmix": True,
        "num_layers": 2,
        "num_initial_filters": 4,
        "num_frames": 768 * 7 + 1024,
    },
    "spectrogram_three_layers_multi_instrument": {
        "network": "unet_spectrogram",
        "mono_downmix": True,
        "num_layers": 3,
        "num_initial_filters": 3,
        "num_frames": 768 * 7 + 1024,
        "task": "multi_instrument",
    },
}


CONFIGS = {name: complete_config(config) for name, config in CONFIGS.items()}


def mix_for(config, seed=1):
    input_frames, _ = get_padding(config)
    # Loud enough that clipping and both LeakyReLU slopes are exercised.
    return (
        np.random.default_rng(seed)
        .uniform(-1.2, 1.2, (3, input_frames, config["num_channels"]))
        .astype(np.float32)
    )


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.slow
def test_imported_checkpoint_reproduces_the_original_graph(name, tmp_path):
    config = CONFIGS[name]
    mix = mix_for(config)
    prefix, reference = save_original_checkpoint(config, tmp_path, mix)
    model = import_original_checkpoint(build_separator(config), prefix)
    ours = model(mix, training=False)
    assert list(ours) == list(reference)
    for source, expected in reference.items():
        assert ours[source].shape == expected.shape
        np.testing.assert_allclose(ours[source].numpy(), expected, atol=1e-4, rtol=0, err_msg=source)


def test_index_and_data_file_names_are_accepted(tmp_path):
    config = CONFIGS["mono_direct_tanh_linear"]
    prefix, reference = save_original_checkpoint(config, tmp_path, mix_for(config))
    for path in (prefix + ".index", prefix + ".data-00000-of-00001"):
        model = import_original_checkpoint(build_separator(config), path)
        np.testing.assert_allclose(model(mix_for(config))["vocals"], reference["vocals"], atol=1e-4)


def weights_of(model):
    return [w.numpy().copy() for w in model.weights]


@pytest.mark.parametrize(
    "other, message",
    [
        (
            {"num_initial_filters": 8},
            r"'separator/conv1d/kernel' has shape \(5, 1, 6\), but layer 'encoder_conv0' "
            r"expects \(5, 1, 8\)",
        ),
        (
            {"output_type": "difference"},
            r"none of its variables missing, 2 \(separator/conv1d_8/bias, separator/conv1d_8/kernel\) "
            r"unexpected",
        ),
        ({"upsampling": "learned"}, r"\d+ \(separator/interp_0.*\) of its variables missing"),
        # Many variables: counted, a few named, so the message stays one readable line.
        ({"num_layers": 5}, r"does not match the config: \d+ \([^)]*, \.\.\.\) of its variables missing"),
    ],
)
def test_a_checkpoint_of_another_config_names_the_variable_and_changes_nothing(other, message, tmp_path):
    config = CONFIGS["mono_direct_tanh_linear"]
    prefix, _ = save_original_checkpoint(config, tmp_path, mix_for(config))
    model = build_separator(config.replace(**other))
    before = weights_of(model)
    with pytest.raises(CheckpointMismatch, match=message):
        import_original_checkpoint(model, prefix)
    for a, b in zip(before, weights_of(model)):
        np.testing.assert_array_equal(a, b)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointMismatch, match="cannot read a TF1 checkpoint at .*nothing-here"):
        import_original_checkpoint(build_separator(complete_config(SMALL)), tmp_path / "nothing-here")


def test_j_net_extensions_cannot_take_an_original_checkpoint():
    with pytest.raises(ConfigError, match="no equivalent of .*res_path_units"):
        import_original_checkpoint(build_separator(resolve_config("U2_2_5+tiny")), "unused")


def test_original_config_dicts_map_to_ours():
    # The original's full_44KHz named config, on top of its base (our M1).
    full_44 = {
        "output_type": "difference",
        "context": True,
        "upsampling": "learned",
        "mono_downmix": False,
        "expected_sr": 44100,
        "network": "unet",
        "musdb_path": "/data/musdb",
        "cache_size": 4000,
    }
    assert from_original_config(full_44) == resolve_config("full_44KHz")
    assert from_original_config({}) == resolve_config("M1")
    # Its unet_spectrogram_l1: "duration" says nothing about the network and is dropped.
    spectrogram_l1 = {
        "batch_size": 4,
        "network": "unet_spectrogram",
        "num_layers": 6,
        "expected_sr": 8192,
        "num_frames": 768 * 127 + 1024,
        "duration": 13,
        "num_initial_filters": 16,
        "raw_audio_loss": False,
    }
    assert from_original_config(spectrogram_l1) == resolve_config("unet_spectrogram_l1")
    with pytest.raises(ConfigError, match="'dropout' is not one of"):
        from_original_config({"dropout": 0.5})


def test_original_learning_rate_and_filter_sizes_map_to_ours():
    assert from_original_config({"init_sup_sep_lr": 3e-4})["schedule"] == [[1, 3e-4], [2, 1e-5]]
    assert resolve_config("M4")["schedule"] == [[1, 1e-4], [2, 1e-5]]
    # The original's baseline_context_smallfilter_deep: filter_size 5 beside the base's input_filter_size 15.
    with pytest.raises(ConfigError, match="input_filter_size'\\] = 15 differs from filter_size = 5"):
        from_original_config(
            {
                "output_type": "difference",
                "context": True,
                "num_layers": 14,
                "filter_size": 5,
                "merge_filter_size": 1,
            }
        )


def test_a_checkpoint_named_after_another_original_config_warns_naming_both(tmp_path):
    prefix = str(tmp_path / "full_44KHz" / "full_44KHz-236118")
    with pytest.warns(
        UserWarning,
        match=r"named after the original's config 'full_44KHz' but is loaded with config "
        r"'full' \(expected_sr 44100 there, 22050 here\)",
    ):
        with pytest.raises(CheckpointMismatch):  # the warning comes before the checkpoint is read
            import_original_checkpoint(build_separator(resolve_config("full")), prefix)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for path, config in ((prefix, "full_44KHz"), (str(tmp_path / "mine" / "model-3"), "full")):
            with pytest.raises(CheckpointMismatch):
                import_original_checkpoint(build_separator(resolve_config(config)), path)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wavenet_j.cli",
            "import-original",
            prefix,
            "--config",
            "full",
            "--output",
            str(tmp_path / "m.keras"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "wavenet-j: warning: checkpoint" in result.stderr and "'full_44KHz'" in result.stderr


@pytest.mark.slow
def test_import_original_command_writes_a_ready_keras_model(tmp_path):
    config = CONFIGS["context_learned_difference_linear_act"]
    mix = mix_for(config)
    prefix, reference = save_original_checkpoint(config, tmp_path, mix)
    # As the original's Sacred run wrote it: all of its keys, some of them about its data.
    original_dict = {
        key: config[key]
        for key in (
            "num_layers",
            "filter_size",
            "merge_filter_size",
            "input_filter_size",
            "output_filter_size",
            "num_initial_filters",
            "upsampling",
            "output_type",
            "context",
            "mono_downmix",
            "task",
            "expected_sr",
            "num_frames",
            "output_activation",
            "batch_size",
            "source_names",
            "num_channels",
        )
    }
    original_dict.update(network="unet", musdb_path="/data/musdb", raw_audio_loss=True)
    (tmp_path / "config.json").write_text(json.dumps(original_dict))
    out = tmp_path / "out" / "model.keras"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wavenet_j.cli",
            "import-original",
            prefix,
            "--config",
            str(tmp_path / "config.json"),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.keras"]  # no temporary left behind
    loaded = keras.saving.load_model(out)
    for source, expected in reference.items():
        np.testing.assert_allclose(loaded(mix)[source], expected, atol=1e-4)


@pytest.mark.slow
def test_import_original_command_refuses_a_mismatch_and_writes_nothing(tmp_path):
    config = CONFIGS["mono_direct_tanh_linear"]
    prefix, _ = save_original_checkpoint(config, tmp_path, mix_for(config))
    out = tmp_path / "model.keras"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wavenet_j.cli",
            "import-original",
            prefix,
            "--config",
            "M4",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "does not match the config" in result.stderr or "has shape" in result.stderr
    assert len(result.stderr.strip().splitlines()[-1]) < 400  # a line, not every variable's name
    assert not out.exists() and list(tmp_path.glob("*.keras*")) == []


def test_a_model_loaded_again_from_its_checkpoint_or_keras_file_keeps_its_fingerprint(tmp_path):
    from wavenet_j.evaluation.musdb import fingerprint
    from wavenet_j.interop import load_separator
    from wavenet_j.separation import SCORING, SeparationOptions

    config = CONFIGS["mono_direct_tanh_linear"]
    prefix, _ = save_original_checkpoint(config, tmp_path, mix_for(config))
    model = load_separator(prefix, config)
    expected = fingerprint(load_separator(prefix, config), SCORING)
    assert fingerprint(model, SCORING) == expected and model.model_config == config
    model.save(tmp_path / "model.keras")
    assert fingerprint(load_separator(tmp_path / "model.keras"), SCORING) == expected
    moved = load_separator(prefix, config.replace(musdb_path="/moved", data_path="/elsewhere"))
    assert fingerprint(moved, SCORING) == expected  # where the data lives changes no estimate
    assert (
        fingerprint(load_separator(prefix, config.replace(output_activation="linear")), SCORING) != expected
    )
    assert fingerprint(model, SeparationOptions(windows="original", precision="mixed_bfloat16")) != expected


def test_a_file_named_keras_that_is_not_a_model_is_named(tmp_path):
    from wavenet_j.interop import load_separator

    path = tmp_path / "notes.keras"
    path.write_text("not a model")
    with pytest.raises(ConfigError, match=r"'.*notes\.keras' is not a Keras model file"):
        load_separator(path)
