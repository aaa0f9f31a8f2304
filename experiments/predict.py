"""Separate one song, as the original's Predict.py:
``python experiments/predict.py with input_path=song.mp3`` (the released M5-HighSR, downloaded on
first use), or ``with cfg.full_44KHz model_path=CHECKPOINT input_path=song.mp3`` (``CHECKPOINT``:
e.g. ``checkpoints/full_44KHz/full_44KHz-236118``, a TF1 checkpoint prefix).

``model_path`` is a released model (M4, M5-HighSR, M6), a ``.keras`` model or an original
Wave-U-Net TF1 checkpoint prefix (imported on the fly with the selected config). Stems go to
``output/<song name>/<source>.wav``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Config.py

from sacred import Experiment  # noqa: E402

from Config import cfg  # noqa: E402
from wavenet_j.backend import requested  # noqa: E402
from wavenet_j.startup import keep_xla_compilations, start_backend  # noqa: E402

start_backend()
from wavenet_j.interop import load_separator  # noqa: E402
from wavenet_j.separation import separate_file  # noqa: E402

ex = Experiment("predict", ingredients=[cfg])


@ex.config
def config():
    model_path = "M5-HighSR"  # noqa: F841 (M4, M5-HighSR, M6, a .keras model or an original TF1 checkpoint)
    input_path = None  # noqa: F841 (any audio file ffmpeg reads)
    output = None  # noqa: F841 (default: next to the input file, as the original)
    stages = 1  # noqa: F841 (progressive inference stages)
    windows = "shared"  # noqa: F841 (context models' window grid: "shared" (faster) or "original" (the original's))
    xla = True  # noqa: F841 (compile the model with XLA, as wavenet-j separate: about 1.2x faster on CPUs)


@ex.automain
def main(cfg, model_path, input_path, output, stages, windows, xla):
    if not model_path or not input_path:
        raise ValueError("give input_path=... (and model_path=... for another model than M5-HighSR)")
    if xla and requested() == "tensorflow":
        keep_xla_compilations()
    model, _ = load_separator(model_path, cfg["model_config"])
    stems = separate_file(
        model,
        input_path,
        output or os.path.dirname(os.path.abspath(input_path)),
        stages=stages,
        windows=windows,
        jit_compile=xla,
    )
    print("stems: " + ", ".join(stems.values()))
    return stems
