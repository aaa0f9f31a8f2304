"""Stages of early-stopped training, as a small state machine.

``model_config["schedule"]`` holds one ``(batch size factor, learning rate)`` pair per stage:
the J-Net paper's three (section 3.2) for its models, the original Wave-U-Net's two for M1-M6.
"""

import dataclasses
import math


@dataclasses.dataclass
class Schedule:
    """Early stopping within a stage, then the next stage; done after the last.

    A stage ends after ``worse_epochs`` epochs without a better validation loss (or after
    ``max_epochs`` epochs, when set). The best loss is kept across stages, as in both original
    codebases: the best model over all stages is the result, and a new stage continues from
    the latest weights, not from the best ones. The last stage keeps its counters when it ends, so
    a run resumed with larger limits can continue it.
    """

    stages: list
    worse_epochs: int
    max_epochs: int = None
    stage: int = 1
    epoch: int = 0  # epochs finished in this stage
    worse: int = 0
    best: float = math.inf

    @classmethod
    def from_config(cls, model_config):
        return cls(
            [tuple(pair) for pair in model_config["schedule"]],
            model_config["worse_epochs"],
            model_config["max_epochs"],
        )

    @property
    def done(self):
        return self.stage > len(self.stages)

    def record(self, validation_loss):
        """Account one finished epoch; returns whether it was the best so far."""
        improved = validation_loss < self.best
        if improved:
            self.best, self.worse = validation_loss, 0
        else:
            self.worse += 1
        self.epoch += 1
        if self._stage_ends():
            self._next_stage()
        return improved

    def _stage_ends(self):
        return self.worse >= self.worse_epochs or bool(self.max_epochs and self.epoch >= self.max_epochs)

    def _next_stage(self):
        self.stage += 1
        if not self.done:
            self.epoch, self.worse = 0, 0

    def batch_size(self, base):
        return base * self.stages[self.stage - 1][0]

    @property
    def learning_rate(self):
        return self.stages[self.stage - 1][1]

    def state(self):
        return [self.stage, self.epoch, self.worse, self.best]

    def restore(self, state):
        """Continue from ``state()`` under this schedule's limits, which may differ from those it was
        saved under: a stage they end is over, and a last stage they no longer end goes on."""
        self.stage, self.epoch, self.worse, self.best = (
            int(state[0]),
            int(state[1]),
            int(state[2]),
            float(state[3]),
        )
        if not self.done and self._stage_ends():
            self._next_stage()
        elif self.done and self.epoch and not self._stage_ends():  # epoch 0: no counters to go on from
            self.stage -= 1
