"""Training: each codebase's staged schedule in a resumable, distributable custom loop."""

from wavenet_j.training.loop import (
    Trainer,
    TrainingError,
    choose_distribution,
    choose_strategy,
    example_losses,
    run_paths,
    step_seconds,
    train,
)
from wavenet_j.training.schedule import Schedule

__all__ = [
    "Schedule",
    "Trainer",
    "TrainingError",
    "choose_distribution",
    "choose_strategy",
    "example_losses",
    "run_paths",
    "step_seconds",
    "train",
]
