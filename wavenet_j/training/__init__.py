"""Training: the paper's three-stage schedule in a resumable, distributable custom loop."""
from wavenet_j.training.loop import Trainer, TrainingError, choose_strategy, example_losses, run_paths, train
from wavenet_j.training.schedule import STAGES, Schedule

__all__ = ["STAGES", "Schedule", "Trainer", "TrainingError", "choose_strategy", "example_losses", "run_paths", "train"]
