"""Train a model: ``python experiments/train.py with cfg.J1`` (add ``cfg.tiny`` for a CPU).

Re-running the same command resumes its run: the run folder is ``<model_base_dir>/<experiment_id>``, and
the default ``experiment_id`` names the named configs given (``J1+tiny``; ``U1`` without one). A
finished run is not trained again. Sacred records the config, the seed, the validation split and
the result under the run's folder.
"""

import logging
import os

from sacred import Experiment
from sacred.observers import FileStorageObserver

from Config import cfg
from wavenet_j.configs import complete_config
from wavenet_j.startup import start_backend

ex = Experiment("train", ingredients=[cfg])
logging.getLogger("absl").setLevel(logging.WARNING)  # TensorFlow's per-checkpoint chatter


@ex.config
def config():
    observe = True  # record the run with Sacred under <model_base_dir>/<experiment_id>/sacred


@ex.config_hook
def add_observer(config, command_name, logger):
    """Sacred copies the observers right after the config hooks, so the run's folder is known here."""
    if command_name == "main" and config["observe"]:
        start_backend()
        from wavenet_j.training import run_paths

        run_dir, _ = run_paths(config["cfg"]["model_config"], config["cfg"]["experiment_id"])
        ex.observers[:] = [FileStorageObserver(os.path.join(run_dir, "sacred"))]
    return {}


@ex.automain
def main(cfg, _run):
    start_backend()
    from wavenet_j.data.pipeline import ensure_toy_corpus
    from wavenet_j.training import Trainer

    config = complete_config(cfg["model_config"])
    ensure_toy_corpus(config)
    trainer = Trainer(config, cfg["experiment_id"])
    result = trainer.fit()
    _run.add_artifact(os.path.join(trainer.run_dir, "split.json"))
    for key, value in result.items():
        _run.info[key] = value
    print(f"best model: {result['best_model']}\nTensorBoard: tensorboard --logdir {result['log_dir']}")
    return result["best_validation_loss"]
