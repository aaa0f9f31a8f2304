"""The custom layers reproduce the original's TF1 numerics, checked by hand and against TF1 ops."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wavenet_j.models.layers import (
    AudioClip,
    CenterCrop,
    Decimate,
    DifferenceOutput,
    LearnedUpsample,
    LinearUpsample,
    UpsampleConv,
    center_crop,
)


def column(values):
    return np.asarray(values, np.float32).reshape(1, -1, 1)


def test_linear_upsample_without_context_repeats_the_last_sample():
    out = LinearUpsample(align_corners=False)(column([1.0, 3.0, 4.0]))
    np.testing.assert_array_equal(out.numpy().ravel(), [1.0, 2.0, 3.0, 3.5, 4.0, 4.0])


def test_linear_upsample_with_align_corners_drops_the_repeat():
    out = LinearUpsample(align_corners=True)(column([1.0, 3.0, 4.0]))
    np.testing.assert_array_equal(out.numpy().ravel(), [1.0, 2.0, 3.0, 3.5, 4.0])


@pytest.mark.parametrize("align_corners", [False, True])
def test_linear_upsample_equals_tf1_resize_bilinear(align_corners):
    x = np.random.default_rng(0).standard_normal((2, 37, 5)).astype(np.float32)
    n = x.shape[1]
    size = [1, 2 * n - 1 if align_corners else 2 * n]
    reference = tf.compat.v1.image.resize_bilinear(x[:, None], size, align_corners=align_corners)[:, 0]
    ours = LinearUpsample(align_corners=align_corners)(x)
    np.testing.assert_array_equal(ours.numpy(), reference.numpy())
    # TF2's resize uses half-pixel centres: different numbers, which is why it is not used.
    tf2 = tf.image.resize(x[:, None], size, method="bilinear")[:, 0]
    assert np.abs(tf2.numpy() - reference.numpy()).max() > 1e-3


def test_learned_upsample_interpolates_with_sigmoid_weights():
    layer = LearnedUpsample("same")
    x = np.array([[[1.0, 10.0], [3.0, 30.0]]], np.float32)  # N=2, F=2
    layer.build(x.shape)
    layer.interp.assign([0.0, np.log(3.0)])  # sigmoid: 0.5 and 0.75
    out = layer(x).numpy()[0]
    # m[0] = s*x0 + (1-s)*x1 ; m[1] = s*x1 + (1-s)*0 ("same": zero past the end)
    np.testing.assert_allclose(out[:, 0], [1.0, 2.0, 3.0, 1.5], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], [10.0, 15.0, 30.0, 22.5], rtol=1e-6)

    valid = LearnedUpsample("valid")
    valid.build(x.shape)
    valid.interp.assign([0.0, np.log(3.0)])
    np.testing.assert_allclose(valid(x).numpy()[0, :, 0], [1.0, 2.0, 3.0], rtol=1e-6)


def test_learned_upsample_rejects_unknown_padding():
    with pytest.raises(ValueError, match="padding"):
        LearnedUpsample("causal")


def test_decimate_keeps_even_samples():
    out = Decimate()(column(range(7)))
    np.testing.assert_array_equal(out.numpy().ravel(), [0, 2, 4, 6])


def test_center_crop_offsets_follow_the_original():
    x = column(range(10))
    # diff 3: start 1, one more cut at the end
    np.testing.assert_array_equal(center_crop(tf.constant(x), 7).numpy().ravel(), [1, 2, 3, 4, 5, 6, 7])
    # diff 4: two each side
    np.testing.assert_array_equal(center_crop(tf.constant(x), 6).numpy().ravel(), [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(CenterCrop()([x, column(range(8))]).numpy().ravel(), range(1, 9))
    with pytest.raises(ValueError, match="too short"):
        center_crop(tf.constant(x), 11)


def test_difference_output_sums_to_the_mix_in_training_and_clips_at_inference():
    mix = column([0.0, 0.9, -0.9, 0.5, 0.0])
    other = column([-0.5, 0.5, 0.5])  # the mix is cropped to [0.9, -0.9, 0.5]
    layer = DifferenceOutput()
    trained = layer([mix, other], training=True).numpy().ravel()
    np.testing.assert_allclose(trained, [1.4, -1.4, 0.0], rtol=1e-6)
    np.testing.assert_allclose(trained + other.ravel(), mix.ravel()[1:4], rtol=1e-6)
    np.testing.assert_allclose(layer([mix, other], training=False).numpy().ravel(), [1.0, -1.0, 0.0])


def test_audio_clip_only_at_inference():
    x = column([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(AudioClip()(x, training=True).numpy().ravel(), [-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(AudioClip()(x).numpy().ravel(), [-1.0, 0.5, 1.0])


def _unfused(layer, skip, x, padding):
    """The three layers ``UpsampleConv`` stands for, with its weights."""
    upsampled = LinearUpsample(align_corners=padding == "valid")(x)
    merged = (
        tf.concat([center_crop(skip, upsampled.shape[1]), upsampled], -1) if skip is not None else upsampled
    )
    conv = keras.layers.Conv1D(layer.filters, layer.kernel_size, padding=padding, activation="leaky_relu")
    conv.build(merged.shape)
    conv.set_weights(layer.get_weights())
    return conv(merged)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("width", [1, 2, 3, 5, 15])
@pytest.mark.parametrize("length", [4, 5, 13])
def test_upsample_conv_equals_upsampling_concat_and_conv(padding, width, length):
    if padding == "valid" and 2 * length - 1 < width:
        pytest.skip("shorter than the kernel")
    rng = np.random.default_rng(width * 100 + length)
    x = rng.standard_normal((2, length, 4)).astype(np.float32)
    skip = rng.standard_normal((2, 2 * length + 2, 3)).astype(np.float32)  # cropped to the upsampled length
    for inputs in ([skip, x], [x]):
        layer = UpsampleConv(6, width, padding, kernel_initializer=keras.initializers.RandomNormal(seed=1))
        ours = layer(inputs)
        reference = _unfused(layer, inputs[0] if len(inputs) == 2 else None, x, padding)
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), atol=2e-6)


def test_upsample_conv_gradients_equal_the_unfused_layers():
    rng = np.random.default_rng(0)
    x, skip = (
        tf.constant(rng.standard_normal(shape).astype(np.float32)) for shape in ((2, 9, 4), (2, 18, 3))
    )
    layer = UpsampleConv(5, 5, "same")
    layer([skip, x])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, skip])
        ours = tf.reduce_sum(layer([skip, x]) ** 2)
        reference = tf.reduce_sum(_unfused(layer, skip, x, "same") ** 2)
    # The reference conv holds copies of the weights: compare gradients with respect to the inputs.
    for ours_gradient, reference_gradient in zip(
        tape.gradient(ours, [x, skip]), tape.gradient(reference, [x, skip])
    ):
        np.testing.assert_allclose(ours_gradient.numpy(), reference_gradient.numpy(), rtol=1e-5, atol=1e-5)


def test_upsample_conv_config_round_trip():
    layer = UpsampleConv(7, 5, "valid", name="decoder_conv3")
    clone = UpsampleConv.from_config(layer.get_config())
    assert (clone.filters, clone.kernel_size, clone.padding, clone.name) == (7, 5, "valid", "decoder_conv3")
    assert clone.compute_output_shape([(None, 40, 3), (None, 20, 4)]) == (None, 35, 7)


@pytest.mark.parametrize(
    "layer",
    [
        Decimate(name="d"),
        LinearUpsample(align_corners=True, name="u"),
        LearnedUpsample("valid", seed=3, name="l"),
        UpsampleConv(4, 3, "valid", name="c"),
        CenterCrop(name="crop"),
        AudioClip(name="clip"),
        DifferenceOutput(name="diff"),
    ],
)
def test_each_layer_survives_a_config_round_trip(layer):
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("length", [1, 6, 7])
def test_shape_preserving_and_resampling_layers_take_any_length_unknown_when_built(length):
    x = np.random.default_rng(length).standard_normal((2, length, 3)).astype(np.float32)
    for layer, expected in (
        (Decimate(), (length + 1) // 2),
        (LinearUpsample(), 2 * length),
        (LinearUpsample(align_corners=True), 2 * length - 1),
        (LearnedUpsample("same"), 2 * length),
        (AudioClip(), length),
    ):
        inputs = keras.Input((None, 3))
        model = keras.Model(inputs, layer(inputs))  # built with the length unknown
        assert model(x).shape == (2, expected, 3), type(layer).__name__
        assert layer.compute_output_shape((2, length, 3)) == (2, expected, 3)


def test_layers_refuse_input_without_a_channel_axis():
    with pytest.raises(ValueError, match="ndim"):
        Decimate()(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match="ndim"):
        UpsampleConv(2, 3)([np.zeros((2, 8), np.float32)])
