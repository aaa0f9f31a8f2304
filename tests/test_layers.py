"""The custom layers reproduce the original's TF1 numerics, checked by hand and against TF1 ops."""
import numpy as np
import pytest
import tensorflow as tf

from wavenet_j.models.layers import (
    AudioClip, CenterCrop, Decimate, DifferenceOutput, LearnedUpsample, LinearUpsample, center_crop)


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
