"""Train a model: ``python experiments/train.py with cfg.J1`` (add ``cfg.tiny`` for a CPU).

Re-running the same command resumes its run: the run folder is ``<model_base_dir>/<experiment_id>``, and
the default ``experiment_id`` names the named configs given (``J1+tiny``; ``U1`` without one). A
finished run is not trained again. Sacred records the config, the seed, the validation split and
the result under the run's folder.
"""

import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Config.py

from sacred import Experiment  # noqa: E402
from sacred.observers import FileStorageObserver  # noqa: E402

from Config import cfg  # noqa: E402
from wavenet_j.startup import start_backend  # noqa: E402

start_backend()
from wavenet_j.data.pipeline import ensure_toy_corpus  # noqa: E402
from wavenet_j.training import Trainer, run_paths  # noqa: E402

ex = Experiment("train", ingredients=[cfg])
logging.getLogger("absl").setLevel(logging.WARNING)  # TensorFlow's per-checkpoint chatter


@ex.config
def config():
    observe = True  # noqa: F841 (record the run with Sacred under <model_base_dir>/<experiment_id>/sacred)


@ex.config_hook
def add_observer(config, command_name, logger):
    """Sacred copies the observers right after the config hooks, so the run's folder is known here."""
    if command_name == "main" and config["observe"]:
        run_dir, _ = run_paths(config["cfg"]["model_config"], config["cfg"]["experiment_id"])
        ex.observers[:] = [FileStorageObserver(os.path.join(run_dir, "sacred"))]
    return {}


@ex.automain
def main(cfg, _run):
    ensure_toy_corpus(cfg["model_config"])
    trainer = Trainer(cfg["model_config"], cfg["experiment_id"])
    result = trainer.fit()
    _run.add_artifact(os.path.join(trainer.run_dir, "split.json"))
    for key, value in result.items():
        _run.info[key] = value
    print(f"best model: {result['best_model']}\nTensorBoard: tensorboard --logdir {result['log_dir']}")
    return result["best_validation_loss"]
