"""Named configs, their resolution with and without Sacred, and get_padding."""

import pytest

from wavenet_j.configs import (
    BASE_CONFIG,
    MODEL_NAMES,
    NAMED_CONFIGS,
    ORIGINAL_NAMES,
    ORIGINAL_SCHEDULE,
    ConfigError,
    ModelConfig,
    complete_config,
    resolve_config,
)
from wavenet_j.models import build_separator, get_padding

PAPER_MODELS = [
    "U1",
    "J1",
    "U2_2_5",
    "U2_3_5",
    "U2_2_10",
    "U2_3_10",
    "J2_2_5",
    "J2_3_5",
    "J2_2_10",
    "J2_3_10",
    "U3_5",
    "U3_10",
    "J3_5",
    "J3_10",
    "U4",
    "J4",
    "U5",
    "J5",
    "L",
    "L_first3",
    "L_last3",
    "M1",
    "M2",
    "M3",
    "M4",
    "M5",
    "M6",
    "M5_HighSR",
]


def test_every_model_of_both_papers_is_a_named_config():
    assert set(PAPER_MODELS) == set(MODEL_NAMES)
    assert "tiny" in NAMED_CONFIGS


def test_original_names_are_the_same_configs():
    for alias, name in ORIGINAL_NAMES.items():
        assert resolve_config(alias) == resolve_config(name)
    assert resolve_config("cfg.full_44KHz") == resolve_config("M5_HighSR")


def test_original_wave_u_net_values():
    m1 = resolve_config("M1")
    assert (m1["num_layers"], m1["num_frames"], m1["expected_sr"]) == (12, 16384, 22050)
    assert (m1["num_channels"], m1["output_type"], m1["context"]) == (1, "direct", False)
    assert resolve_config("M2")["output_type"] == "difference"
    assert resolve_config("M3")["context"] and resolve_config("M3")["num_channels"] == 1
    assert resolve_config("M4")["num_channels"] == 2 and resolve_config("M4")["upsampling"] == "linear"
    assert resolve_config("M5")["upsampling"] == "learned"
    assert resolve_config("M5_HighSR")["expected_sr"] == 44100
    m6 = resolve_config("M6")
    assert m6["source_names"] == ["bass", "drums", "other", "vocals"] and m6["num_sources"] == 4
    assert m6["upsampling"] == "linear" and m6["context"]


def test_the_originals_configs_without_an_m_number_build_with_its_values():
    deep = resolve_config("baseline_context_smallfilter_deep")
    assert (deep["num_layers"], deep["filter_size"], deep["merge_filter_size"]) == (14, 5, 1)
    assert deep["input_filter_size"] == 5  # the original's 15 gives shapes that do not agree
    comparison = resolve_config("baseline_comparison")
    assert (
        comparison["batch_size"],
        comparison["num_frames"],
        comparison["expected_sr"],
        comparison["num_initial_filters"],
        comparison["num_layers"],
    ) == (4, 768 * 127 + 1024, 8192, 34, 12)
    for config in (deep, comparison):
        assert config["context"] and config["output_type"] == "difference" and config["num_channels"] == 1
        assert config["network"] == "unet" and config["raw_audio_loss"]
        assert (config["schedule"], config["worse_epochs"]) == (ORIGINAL_SCHEDULE, 20)
    assert get_padding(deep) == (147453, 16385)
    assert get_padding(comparison) == (233459, 102405)
    for name in ("baseline_context_smallfilter_deep", "baseline_comparison"):
        config = resolve_config(name)
        input_frames, output_frames = get_padding(config)
        model = build_separator(config)
        assert model.input_shape == (None, input_frames, 1)
        assert [tuple(out.shape) for out in model.outputs] == [(None, output_frames, 1)] * 2
        assert name in ORIGINAL_NAMES and name not in MODEL_NAMES


def test_u1_is_the_base_and_derived_keys_are_added():
    u1 = resolve_config("U1")
    assert u1 == resolve_config([]) == complete_config({})
    assert {k: u1[k] for k in BASE_CONFIG} == BASE_CONFIG
    assert u1["source_names"] == ["accompaniment", "vocals"] and u1["num_channels"] == 2
    assert (u1["num_layers"], u1["num_initial_filters"], u1["context"]) == (10, 24, False)


def test_a_config_is_read_only_and_a_changed_one_is_validated_and_derived_again(tmp_path):
    import copy
    import pickle

    config = resolve_config("J1+tiny", {"data_path": str(tmp_path)})
    assert isinstance(config, ModelConfig) and config == resolve_config(
        ["J1", "tiny"], {"data_path": str(tmp_path)}
    )
    assert config["corpus_root"] == str(tmp_path / "toy_musdb") and config["musdb_path"] == "toy"
    with pytest.raises(TypeError, match="read-only; config.replace"):
        config["num_layers"] = 4
    with pytest.raises(TypeError, match="read-only"):
        config.update(num_layers=4)
    mono = config.replace(mono_downmix=True, musdb_path="/data/musdb")
    assert (mono["num_channels"], mono["corpus_root"], config["num_channels"]) == (1, "/data/musdb", 2)
    with pytest.raises(ConfigError, match="'num_layers'.*integer >= 1"):
        config.replace(num_layers=0)
    for copied in (copy.deepcopy(config), pickle.loads(pickle.dumps(config))):
        assert isinstance(copied, ModelConfig) and copied == config
    assert resolve_config("")["musdb_path"] is None and resolve_config("")["corpus_root"] is None
    with pytest.raises(ConfigError, match="build_separator takes a completed model_config.*got a dict"):
        build_separator({"num_layers": 4})


def test_named_configs_combine_in_order():
    j1_tiny = resolve_config(["J1", "tiny"])
    assert j1_tiny["freeze_encoder"] and j1_tiny["num_frames"] == NAMED_CONFIGS["tiny"]["num_frames"]
    assert resolve_config(["M1", "U1"])["num_layers"] == 12  # U1 changes nothing


def test_paper_variant_keys():
    assert (
        resolve_config("U2_3_10")["res_path_units"] == 3
        and resolve_config("U2_3_10")["res_path_levels"] == 10
    )
    assert resolve_config("J3_5")["multires_levels"] == 5 and resolve_config("J3_5")["freeze_encoder"]
    assert resolve_config("U4")["num_stages"] == 2 and resolve_config("J4")["freeze_encoder"]
    assert resolve_config("U5")["identity_loss_weight"] == 1.0 and BASE_CONFIG["identity_loss_weight"] == 0.0
    assert resolve_config("L_first3")["skip_levels"] == [0, 1, 2]
    assert resolve_config("L_last3")["skip_levels"] == [-3, -2, -1]


def test_unknown_named_config_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown named config 'J9'.*J1.*U1"):
        resolve_config(["J1", "J9"])


@pytest.mark.parametrize(
    "partial, message",
    [
        ({"upsampling": "cubic"}, r"'upsampling'.*'cubic'.*\['linear', 'learned'\]"),
        ({"num_layers": 0}, r"'num_layers'.*0.*integer >= 1"),
        (
            {"valid_fraction": 0},
            r"'valid_fraction'\] = 0 must be a number in \(0, 1\): training stops early on the loss of "
            r"validation tracks",
        ),
        ({"valid_fraction": 1.0}, r"'valid_fraction'\] = 1.0 must be a number in \(0, 1\)"),
        ({"output_type": "residual"}, r"'output_type'"),
        ({"output_activation": "relu"}, r"'output_activation'"),
        ({"task": "drums"}, r"'task'"),
        ({"context": "yes"}, r"'context'.*True or False"),
        ({"num_filters": 3}, r"unknown model_config key.*'num_filters'"),
        ({"skip_levels": [10]}, r"'skip_levels'.*\[-10, 9\]"),
        ({"res_path_levels": 11}, r"'res_path_levels'\] = 11 exceeds num_layers = 10"),
        ({"res_path_units": 2}, r"res_path_levels > 0"),
        ({"num_channels": 1}, r"'num_channels'\] is 1 but .* give 2"),
        ({"data_path": None}, r"'data_path'\] = None must be a path"),
        ({"num_stages": 2, "context": True}, r"'num_stages'\] > 1 needs context=False"),
        (
            {"input_filter_size": 7},
            r"'input_filter_size'\] = 7 differs from filter_size = 15: the original's first conv",
        ),
        (
            {"init_sup_sep_lr": 3e-4},
            r"'init_sup_sep_lr'\] is the first stage's learning rate in model_config\['schedule'\]",
        ),
        ({"schedule": []}, r"'schedule'\] = \[\] must be a non-empty list of \[batch size factor"),
        ({"schedule": [[0, 1e-4]]}, r"'schedule'\] = \[\[0, 0.0001\]\]"),
        ({"schedule": [[1, 1e-4], [2]]}, r"'schedule'"),
        ({"schedule": [[1, -1e-4]]}, r"'schedule'"),
        ({"network": "cnn"}, r"'network'\] = 'cnn' is not one of \['unet', 'unet_spectrogram'\]"),
        ({"network": "unet_spectrogram"}, r"'unet_spectrogram' needs mono_downmix=True"),
        ({"network": "unet_spectrogram", "mono_downmix": True, "context": True}, r"needs context=False"),
        (
            {"network": "unet_spectrogram", "mono_downmix": True, "multires_levels": 2},
            r"'unet_spectrogram' has no equivalent of \{'multires_levels': 2\}",
        ),
        ({"raw_audio_loss": False}, r"'raw_audio_loss'\] = False .* needs network='unet_spectrogram'"),
        (
            {"network": "unet_spectrogram", "mono_downmix": True, "raw_audio_loss": False, "num_stages": 2},
            r"needs num_stages=1 and identity_loss_weight=0",
        ),
    ],
)
def test_bad_config_values_name_the_key(partial, message):
    with pytest.raises(ConfigError, match=message):
        complete_config(partial)


def test_get_padding_numbers():
    assert get_padding(resolve_config("U1")) == (16384, 16384)
    assert get_padding(resolve_config("M1")) == (16384, 16384)
    # The original's get_padding turns M4's 16384 requested output frames into 16389, with 147443 input.
    for name in ("M3", "M4", "M5", "M6", "M5_HighSR"):
        assert get_padding(resolve_config(name)) == (147443, 16389)
    # By hand: 2 layers, widths 3: rem 10 -> 6.5 -> 4.75, bottom 5; out 5 -> 7 -> 11; in 7 -> 15 -> 31.
    hand = {
        "context": True,
        "num_layers": 2,
        "filter_size": 3,
        "input_filter_size": 3,
        "merge_filter_size": 3,
        "num_frames": 10,
    }
    assert get_padding(complete_config(hand)) == (31, 11)


def test_get_padding_rejects_impossible_frame_counts():
    with pytest.raises(
        ConfigError, match=r"'num_frames'\] = 1000 must be a multiple of 2\*\*num_layers = 1024"
    ):
        get_padding(complete_config({"num_frames": 1000}))
    with pytest.raises(ConfigError, match="too small for 10 layers with context"):
        get_padding(complete_config({"context": True, "num_frames": 1, "merge_filter_size": 1}))
    spectrogram = complete_config({"network": "unet_spectrogram", "mono_downmix": True, "num_layers": 6})
    with pytest.raises(
        ConfigError,
        match=r"'num_frames'\] = 16384 must be 768 \* \(n - 1\) \+ 1024 for a number n "
        r"of STFT frames divisible by 2\*\*num_layers = 64 \(e.g. 49408\)",
    ):
        get_padding(spectrogram.replace(num_frames=16384))
    with pytest.raises(ConfigError, match="'num_frames'.* = 50176"):  # 65 frames
        get_padding(spectrogram.replace(num_frames=50176))
    with pytest.raises(ConfigError, match=r"'num_layers'\] = 10 is too deep for the spectrogram U-Net"):
        get_padding(spectrogram.replace(num_layers=10))
    assert get_padding(spectrogram.replace(num_frames=49408)) == (49408, 49408)


def test_sacred_ingredient_gives_the_same_configs():
    from sacred import Experiment

    from Config import cfg

    ex = Experiment("config_check", ingredients=[cfg], save_git_info=False)

    @ex.main
    def report(cfg):
        return dict(cfg["model_config"]), cfg["experiment_id"]

    for names in ([], ["J1"], ["J1", "tiny"], ["M6"], ["full_44KHz"], ["L_last3", "tiny"]):
        run = ex.run(named_configs=[f"cfg.{n}" for n in names], options={"--loglevel": "ERROR"})
        model_config, experiment_id = run.result
        assert model_config == resolve_config(names), names
        assert experiment_id == ("+".join(names) or "U1")  # the same command resumes the same run
    # A command-line style update on top of a named config re-derives the dependent keys.
    run = ex.run(
        named_configs=["cfg.M6"],
        config_updates={"cfg": {"model_config": {"mono_downmix": True}}},
        options={"--loglevel": "ERROR"},
    )
    assert run.result[0]["num_channels"] == 1 and run.result[0]["num_sources"] == 4
