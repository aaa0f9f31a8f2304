"""Separate one song, as the original's Predict.py:
``python experiments/predict.py with input_path=song.mp3`` (the released M5-HighSR, downloaded on
first use), or ``with cfg.full_44KHz model_path=CHECKPOINT input_path=song.mp3`` (``CHECKPOINT``:
e.g. ``checkpoints/full_44KHz/full_44KHz-236118``, a TF1 checkpoint prefix).

``model_path`` is a released model (M4, M5-HighSR, M6), a ``.keras`` model or an original
Wave-U-Net TF1 checkpoint prefix (imported on the fly with the selected config). Stems go to
``output/<song name>/<source>.wav``.
"""

import os

from sacred import Experiment

from Config import cfg
from wavenet_j.configs import complete_config
from wavenet_j.separation import SeparationOptions
from wavenet_j.startup import start_backend

ex = Experiment("predict", ingredients=[cfg])


@ex.config
def config():
    model_path = "M5-HighSR"  # M4, M5-HighSR, M6, a .keras model or an original TF1 checkpoint
    input_path = None  # any audio file ffmpeg reads
    output = None  # default: next to the input file, as the original
    stages = SeparationOptions.stages  # progressive inference stages
    windows = SeparationOptions.windows  # context models' window grid: "shared" (faster) or "original"
    xla = True  # compile the model with XLA, as wavenet-j separate: about 1.2x faster on CPUs


@ex.automain
def main(cfg, model_path, input_path, output, stages, windows, xla):
    if not model_path or not input_path:
        raise ValueError("give input_path=... (and model_path=... for another model than M5-HighSR)")
    start_backend(xla=xla)
    from wavenet_j.interop import load_separator
    from wavenet_j.separation import separate_file

    model = load_separator(model_path, complete_config(cfg["model_config"]))
    stems = separate_file(
        model,
        input_path,
        output or os.path.dirname(os.path.abspath(input_path)),
        options=SeparationOptions(stages=stages, windows=windows, jit_compile=xla),
    )
    print("stems: " + ", ".join(stems.values()))
    return stems
