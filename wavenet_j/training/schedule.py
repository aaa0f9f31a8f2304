"""The paper's three-stage schedule (section 3.2), as a small state machine."""
import dataclasses
import math

# (batch size factor, learning rate) per stage; stage 1's rate is the config's init_sup_sep_lr.
STAGES = ((1, None), (2, 1e-5), (2, 1e-6))


@dataclasses.dataclass
class Schedule:
    """Early stopping within a stage, then the next stage; done after the last.

    A stage ends after ``worse_epochs`` epochs without a better validation loss (or after
    ``max_epochs`` epochs, when set); the best loss is kept across stages, since the best model
    over all stages is the result.
    """

    worse_epochs: int
    max_epochs: int = None
    stage: int = 1
    epoch: int = 0  # epochs finished in this stage
    worse: int = 0
    best: float = math.inf

    @property
    def done(self):
        return self.stage > len(STAGES)

    def record(self, validation_loss):
        """Account one finished epoch; returns whether it was the best so far."""
        improved = validation_loss < self.best
        if improved:
            self.best, self.worse = validation_loss, 0
        else:
            self.worse += 1
        self.epoch += 1
        if self.worse >= self.worse_epochs or (self.max_epochs and self.epoch >= self.max_epochs):
            self.stage, self.epoch, self.worse = self.stage + 1, 0, 0
        return improved

    def batch_size(self, base):
        return base * STAGES[self.stage - 1][0]

    def learning_rate(self, base):
        return STAGES[self.stage - 1][1] or base

    def state(self):
        return [self.stage, self.epoch, self.worse, self.best]

    def restore(self, state):
        self.stage, self.epoch, self.worse, self.best = int(state[0]), int(state[1]), int(state[2]), float(state[3])
