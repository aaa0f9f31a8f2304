"""Input and output lengths, exactly as the original Wave-U-Net computes them."""

import math
from collections.abc import Mapping
from fractions import Fraction

from wavenet_j.configs import ConfigError

# The original spectrogram U-Net's STFT: frames of 1024 samples every 768, 513 frequency bins.
STFT_FRAME = 1024
STFT_HOP = 768


def get_padding(config: Mapping) -> tuple[int, int]:
    """``(input_frames, output_frames)`` of a model: the original's ``get_padding``.

    Without context the network maps num_frames to num_frames ("same" convolutions), which
    needs num_frames divisible by 2**num_layers. With context ("valid" convolutions) the
    requested num_frames is rounded up to the nearest output length the network can produce,
    and the input grows by the context it consumes (M4: 16384 -> 16389 output, 147443 input).
    The spectrogram U-Net maps num_frames to num_frames, as the original's.
    """
    layers, frames = config["num_layers"], config["num_frames"]
    if config["network"] == "unet_spectrogram":
        return _spectrogram_padding(frames, layers)
    if not config["context"]:
        if frames % 2**layers:
            raise ConfigError(
                f"model_config['num_frames'] = {frames} must be a multiple of 2**num_layers = "
                f"{2**layers} when context=False (each level halves the length exactly)"
            )
        return frames, frames

    merge, filt = config["merge_filter_size"], config["filter_size"]
    out_filt, in_filt = config["output_filter_size"], config["input_filter_size"]
    # From the requested output down to the lowest-resolution feature map.
    rem = Fraction(frames - out_filt + 1)
    for _ in range(layers):
        rem = (rem + merge - 1 + 1) / 2
    bottom = math.ceil(rem)
    if bottom < 2:
        raise ConfigError(
            f"model_config['num_frames'] = {frames} is too small for {layers} layers with context: "
            f"the lowest-resolution feature map would have {bottom} sample(s), at least 2 are needed"
        )
    # And back up through both paths.
    output_frames, input_frames = bottom, bottom + filt - 1
    for level in range(layers):
        output_frames = 2 * output_frames - 1 - merge + 1
        input_frames = 2 * input_frames - 1 + (filt if level < layers - 1 else in_filt) - 1
    output_frames = output_frames - out_filt + 1
    if output_frames < frames:
        raise ConfigError(
            f"model_config['num_frames'] = {frames} cannot be produced with context by this network "
            f"(it yields {output_frames}); increase num_frames or merge_filter_size"
        )
    return input_frames, output_frames


def _spectrogram_padding(frames, layers):
    """Each of the spectrogram U-Net's strided convs halves its map exactly, as the original asserts:
    the STFT frames and the frequency bins (512, the last one cut) must divide by 2**num_layers."""
    block = 2**layers
    if STFT_FRAME // 2 % block:
        raise ConfigError(
            f"model_config['num_layers'] = {layers} is too deep for the spectrogram U-Net: its "
            f"{STFT_FRAME // 2} frequency bins halve at most 9 times"
        )
    if (
        frames < STFT_FRAME
        or (frames - STFT_FRAME) % STFT_HOP
        or ((frames - STFT_FRAME) // STFT_HOP + 1) % block
    ):
        raise ConfigError(
            f"model_config['num_frames'] = {frames} must be {STFT_HOP} * (n - 1) + {STFT_FRAME} for a "
            f"number n of STFT frames divisible by 2**num_layers = {block} "
            f"(e.g. {STFT_HOP * (block - 1) + STFT_FRAME}) for the spectrogram U-Net"
        )
    return frames, frames
