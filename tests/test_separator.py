"""build_separator: shapes of every named model, frozen groups, seeds, saving, stages, bad input."""

import keras
import numpy as np
import pytest

from wavenet_j.configs import MODEL_NAMES, ConfigError, complete_config, resolve_config
from wavenet_j.models import build_separator, get_padding, layer_group, multi_stage
from wavenet_j.models.layers import UpsampleConv
from wavenet_j.models.summary import receptive_field


def weights_of(model):
    return {w.path: w.numpy() for w in model.weights}


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def layer_names(model, prefix=""):
    return {layer.name for layer in model.layers if layer.name.startswith(prefix)}


def random_mix(model, batch=2, seed=0):
    shape = (batch,) + tuple(model.input_shape[1:])
    return np.random.default_rng(seed).uniform(-0.5, 0.5, shape).astype(np.float32)


def test_empty_config_is_u1():
    u1 = build_separator(complete_config({}))
    named = build_separator(resolve_config("U1"))
    assert u1.count_params() == named.count_params() == 6181278
    for (path, a), b in zip(weights_of(u1).items(), weights_of(named).values()):
        np.testing.assert_array_equal(a, b, err_msg=path)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.slow
def test_every_named_model_builds_with_the_shapes_of_get_padding(name):
    config = resolve_config(name)
    model = build_separator(config)
    input_frames, output_frames = get_padding(config)
    assert model.input_shape == (None, input_frames, config["num_channels"])
    assert [tuple(out.shape) for out in model.outputs] == [
        (None, output_frames, config["num_channels"])
    ] * len(config["source_names"])
    # and really computes them, at the tiny size
    tiny = build_separator(resolve_config([name, "tiny"]))
    estimates = tiny(random_mix(tiny, batch=1))
    assert list(estimates) == config["source_names"]
    _, tiny_output = get_padding(resolve_config([name, "tiny"]))
    for estimate in estimates.values():
        assert estimate.shape == (1, tiny_output, config["num_channels"])
        assert np.all(np.isfinite(estimate.numpy()))


TWINS = [
    ("U1", "J1"),
    ("U2_2_5", "J2_2_5"),
    ("U2_3_5", "J2_3_5"),
    ("U2_2_10", "J2_2_10"),
    ("U2_3_10", "J2_3_10"),
    ("U3_5", "J3_5"),
    ("U3_10", "J3_10"),
    ("U4", "J4"),
    ("U5", "J5"),
]


@pytest.mark.parametrize("u_name, j_name", TWINS)
def test_j_models_freeze_exactly_the_encoder_of_their_u_twin(u_name, j_name):
    u_model, j_model = build_separator(resolve_config(u_name)), build_separator(resolve_config(j_name))
    assert u_model.count_params() == j_model.count_params()
    assert count(u_model.non_trainable_weights) == 0
    assert count(j_model.trainable_weights) < count(u_model.trainable_weights)
    for layer in j_model.layers:
        if layer.weights:
            assert layer.trainable == (layer_group(layer) != "encoder"), layer.name
    # Res paths and MultiRes blocks sit in the encoder and are frozen with it.
    frozen = {layer.name for layer in j_model.layers if layer.weights and not layer.trainable}
    assert frozen == {
        layer.name for layer in u_model.layers if layer.weights and layer_group(layer) == "encoder"
    }
    # Same seed: the frozen random encoder is the U model's initial encoder.
    u_weights = weights_of(u_model)
    for path, value in weights_of(j_model).items():
        np.testing.assert_array_equal(value, u_weights[path], err_msg=path)


def skip_levels_of(model):
    """Decoder levels fed an encoder skip: by a concatenation, or as the first input of a fused
    ``UpsampleConv``."""
    concatenated = {int(n[len("decoder_skip") :].split("_")[0]) for n in layer_names(model, "decoder_skip")}
    fused = {
        int(layer.name[len("decoder_conv") :])
        for layer in model.layers
        if isinstance(layer, UpsampleConv) and isinstance(layer.input, list) and len(layer.input) == 2
    }
    return sorted(concatenated | fused)


def test_l_models_freeze_the_decoder_and_select_skips_as_the_paper_says():
    models = {name: build_separator(resolve_config(name)) for name in ("U1", "L", "L_first3", "L_last3")}
    for name in ("L", "L_first3", "L_last3"):
        model = models[name]
        for layer in model.layers:
            if layer.weights:
                assert layer.trainable == (layer_group(layer) != "decoder"), (name, layer.name)
        # The output layer still sees the input: its skip is always kept.
        assert "output_skip_concat" in layer_names(model)
    skips = {name: skip_levels_of(m) for name, m in models.items()}
    assert skips["U1"] == skips["L"] == list(range(10))
    assert skips["L_first3"] == [0, 1, 2]
    assert skips["L_last3"] == [7, 8, 9]
    # Same encoder, bottleneck and output: trained parameters are equal; fewer skips, smaller decoder.
    trained = {name: count(m.trainable_weights) for name, m in models.items()}
    assert trained["L"] == trained["L_first3"] == trained["L_last3"] < trained["U1"]
    assert models["L_first3"].count_params() < models["L_last3"].count_params() < models["L"].count_params()


def test_l_model_with_learned_upsampling_freezes_the_interpolation_weights(small):
    model = build_separator(small.replace(freeze_decoder=True, upsampling="learned"))
    upsamplers = [layer for layer in model.layers if layer.name.startswith("decoder_upsample")]
    assert len(upsamplers) == 3 and all(not layer.trainable and layer.weights for layer in upsamplers)


def test_res_paths_and_multires_blocks_sit_where_the_config_says(small):
    model = build_separator(small.replace(res_path_units=2, res_path_levels=2, multires_levels=1))
    assert layer_names(model, "encoder_respath") >= {
        "encoder_respath0_unit0_conv",
        "encoder_respath0_unit1_shortcut",
        "encoder_respath1_unit1_conv",
    }
    assert not layer_names(model, "encoder_respath2")
    assert layer_names(model, "encoder_multires0") and layer_names(model, "decoder_multires0")
    assert not layer_names(model, "encoder_multires1") and not layer_names(model, "decoder_multires1")
    # A MultiRes block outputs twice the channels of the conv it replaces.
    assert model.get_layer("encoder_multires0_act").output.shape[-1] == 2 * small["num_initial_filters"]
    # A Res path keeps the skip's shape.
    assert (
        model.get_layer("encoder_respath1_unit1_act").output.shape
        == model.get_layer("encoder_conv1").output.shape
    )


def test_context_model_with_multires_and_res_paths_keeps_the_original_lengths(small):
    config = small.replace(
        context=True, multires_levels=2, res_path_units=1, res_path_levels=2, upsampling="learned"
    )
    model = build_separator(config)
    input_frames, output_frames = get_padding(config)
    assert model.input_shape[1] == input_frames
    assert model(random_mix(model))["vocals"].shape[1] == output_frames


def test_convolutions_use_leaky_relu_with_slope_0_2(small):
    model = build_separator(small)
    activation = model.get_layer("encoder_conv1").activation
    np.testing.assert_allclose(np.asarray(activation(np.array([-1.0, 2.0]))), [-0.2, 2.0])


def test_difference_output_sums_to_the_mix_in_training(small):
    model = build_separator(small)
    mix = random_mix(model)
    estimates = model(mix, training=True)
    np.testing.assert_allclose(estimates["accompaniment"] + estimates["vocals"], mix, atol=1e-6)


def test_same_seed_same_weights_other_seed_other_weights(small):
    first, second = build_separator(small.replace(seed=7)), build_separator(small.replace(seed=7))
    other = build_separator(small.replace(seed=8))
    a, b, c = weights_of(first), weights_of(second), weights_of(other)
    for path in a:
        np.testing.assert_array_equal(a[path], b[path], err_msg=path)
    kernels = [path for path in a if path.endswith("kernel")]
    assert all(not np.array_equal(a[path], c[path]) for path in kernels)


@pytest.mark.parametrize(
    "extra",
    [
        {"freeze_encoder": True, "res_path_units": 1, "res_path_levels": 2},
        {"freeze_decoder": True, "upsampling": "learned", "skip_levels": [0, -1]},
        {"context": True, "upsampling": "learned", "output_activation": "linear", "mono_downmix": True},
        {"multires_levels": 3, "output_type": "direct", "task": "multi_instrument"},
    ],
)
def test_keras_round_trip_keeps_outputs_and_trainable_flags(small, extra, tmp_path):
    model = build_separator(small.replace(**extra))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    mix = random_mix(model)
    expected, got = model(mix), loaded(mix)
    for source in expected:
        np.testing.assert_array_equal(got[source].numpy(), expected[source].numpy())
    assert [(layer.name, layer.trainable) for layer in loaded.layers] == [
        (layer.name, layer.trainable) for layer in model.layers
    ]
    assert count(loaded.trainable_weights) == count(model.trainable_weights)


def test_multi_stage_feeds_each_estimate_back_through_the_same_weights(small, tmp_path):
    model = build_separator(small)
    staged = multi_stage(model, 2)
    assert count(staged.weights) == count(model.weights)
    mix = random_mix(model)
    first = model(mix)
    expected = {source: model(first[source].numpy())[source] for source in first}
    got = staged(mix)
    for source in expected:
        np.testing.assert_allclose(got[source], expected[source], atol=1e-6)
    path = tmp_path / "staged.keras"
    staged.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(mix)["vocals"], got["vocals"], atol=1e-6)


def test_multi_stage_refuses_context_models(small):
    model = build_separator(small.replace(context=True))
    assert multi_stage(model, 1).output_shape == model.output_shape
    with pytest.raises(ConfigError, match="as long as its input"):
        multi_stage(model, 2)


def test_wrong_channel_count_names_the_shapes(small):
    model = build_separator(small)  # stereo
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 2.*\(1, 64, 1\)"):
        model(np.zeros((1, 64, 1), np.float32))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 64, 2\), found shape=\(1, 32, 2\)"):
        model(np.zeros((1, 32, 2), np.float32))


def test_bad_config_values_fail_before_building():
    with pytest.raises(ConfigError, match="'upsampling'.*'cubic'"):
        complete_config({"upsampling": "cubic"})
    with pytest.raises(ConfigError, match="'num_layers'"):
        complete_config({"num_layers": 0})
    with pytest.raises(ConfigError, match="too small"):
        build_separator(complete_config({"context": True, "num_frames": 1, "merge_filter_size": 1}))


def test_receptive_field_by_hand():
    # One level, widths 3: the centre (even) output sees x[c-5 .. c+5] through the bottleneck.
    config = complete_config(
        {"num_layers": 1, "filter_size": 3, "input_filter_size": 3, "merge_filter_size": 3, "num_frames": 64}
    )
    assert receptive_field(config) == 11
    # A context model's field fits in its input.
    m4 = resolve_config("M4")
    input_frames, output_frames = get_padding(m4)
    assert input_frames - output_frames + 1 <= receptive_field(m4) <= input_frames


def test_every_encoder_conv_has_filter_size_as_in_the_original_graph():
    config = complete_config(
        {
            "num_layers": 3,
            "num_initial_filters": 4,
            "filter_size": 7,
            "input_filter_size": 7,
            "num_frames": 64,
        }
    )
    model = build_separator(config)
    widths = [model.get_layer(f"encoder_conv{level}").kernel.shape[0] for level in range(3)]
    assert widths == [7, 7, 7] and model.get_layer("bottleneck_conv").kernel.shape[0] == 7
    with pytest.raises(ConfigError, match="input_filter_size'\\] = 15 differs from filter_size = 7"):
        complete_config({"num_layers": 3, "filter_size": 7, "num_frames": 64})


def test_a_model_saved_before_the_schedule_key_still_loads_and_separates(small, tmp_path):
    model = build_separator(small)
    legacy = {key: value for key, value in model.model_config.items() if key != "schedule"}
    model.model_config = dict(legacy, init_sup_sep_lr=3e-4)  # what .keras files of earlier versions carry
    model.save(tmp_path / "old.keras")
    loaded = keras.saving.load_model(tmp_path / "old.keras")
    assert loaded.model_config["schedule"] == [[1, 3e-4], [2, 1e-5], [2, 1e-6]]
    assert "init_sup_sep_lr" not in loaded.model_config
    from wavenet_j.separation import separate_track

    mix = np.random.default_rng(0).uniform(-0.5, 0.5, (300, 2)).astype(np.float32)
    stems = separate_track(loaded, mix, 22050)
    assert stems["vocals"].shape == mix.shape
