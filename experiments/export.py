"""Export a model as a SavedModel or TFLite:
``python experiments/export.py with cfg.M5 model_path=... output=...``.

``model_path`` is a ``.keras`` file, or an original Wave-U-Net TF1 checkpoint prefix, which is
imported with the selected config first.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Config.py

from sacred import Experiment  # noqa: E402

from Config import cfg  # noqa: E402
from wavenet_j.startup import start_backend  # noqa: E402

start_backend()
from wavenet_j.interop import export_model, load_separator  # noqa: E402

ex = Experiment("export", ingredients=[cfg])


@ex.config
def config():
    model_path = None  # noqa: F841 (.keras file or original TF1 checkpoint prefix)
    output = None  # noqa: F841 (SavedModel folder, or a .tflite file)
    format = "savedmodel"  # noqa: F841 ("savedmodel" or "tflite")


@ex.automain
def main(cfg, model_path, output, format):
    if not model_path or not output:
        raise ValueError("give model_path=... and output=...")
    model, _ = load_separator(model_path, cfg["model_config"])
    export_model(model, output, format)
    return output
