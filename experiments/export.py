"""Export a model as a SavedModel or TFLite:
``python experiments/export.py with cfg.M5 model_path=... output=...``.

``model_path`` is a ``.keras`` file, or an original Wave-U-Net TF1 checkpoint prefix, which is
imported with the selected config first.
"""

from sacred import Experiment

from Config import cfg
from wavenet_j.configs import complete_config
from wavenet_j.startup import start_backend

ex = Experiment("export", ingredients=[cfg])


@ex.config
def config():
    model_path = None  # .keras file or original TF1 checkpoint prefix
    output = None  # SavedModel folder, or a .tflite file
    format = "savedmodel"  # "savedmodel" or "tflite"


@ex.automain
def main(cfg, model_path, output, format):
    if not model_path or not output:
        raise ValueError("give model_path=... and output=...")
    start_backend()
    from wavenet_j.interop import export_model, load_separator

    model = load_separator(model_path, complete_config(cfg["model_config"]))
    export_model(model, output, format)
    return output
