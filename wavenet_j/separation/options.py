"""How a song is separated: one validated set of options that the CLI, the Sacred scripts, evaluation
and the study all build, so every default and every choice is written here once."""

import dataclasses

WINDOWS = ("shared", "original")  # the window grids a context model can separate on
PRECISIONS = (None, "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class SeparationOptions:
    """Options of ``separate_track`` and ``separate_file``, checked when made.

    Attributes:
        stages: progressive passes through the model (models without context).
        windows: a context model's window grid. ``"shared"`` shares the context of neighbouring
            windows (``shared_context``), several times faster, with windows starting at multiples
            of ``2**num_layers``; ``"original"`` runs the original's ``predict_track`` windows
            (multiples of the output length) exactly, so scores compare with the original's.
            Models without context give the same numbers on both.
        precision: ``"mixed_bfloat16"`` computes in bf16 (faster where the processor has bf16
            arithmetic, with slightly different numbers); ``None`` is float32.
        batch_windows: windows per model call on the original grid.
        segment_seconds: the length of a segment held in memory; it changes no number.
        jit_compile: compile the model's pass with XLA (the same numbers within float rounding;
            compiling costs seconds before the first samples).
    """

    stages: int = 1
    windows: str = "shared"
    precision: str | None = None
    batch_windows: int = 8
    segment_seconds: float = 30.0
    jit_compile: bool = False

    def __post_init__(self):
        for name in ("stages", "batch_windows"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"separation option {name} = {value!r} must be an integer >= 1")
        if self.windows not in WINDOWS:
            raise ValueError(f"separation option windows = {self.windows!r} must be one of {list(WINDOWS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"separation option precision = {self.precision!r} must be one of {list(PRECISIONS)}"
            )
        if not isinstance(self.segment_seconds, (int, float)) or not self.segment_seconds > 0:
            raise ValueError(f"separation option segment_seconds = {self.segment_seconds!r} must be > 0")
        if not isinstance(self.jit_compile, bool):
            raise ValueError(f"separation option jit_compile = {self.jit_compile!r} must be True or False")

    def estimates(self):
        """The options that decide the estimates (what a results folder's fingerprint records); the
        others change how the work is done, and the numbers within float rounding at most."""
        return {"stages": self.stages, "windows": self.windows, "precision": self.precision}


# What evaluation and the study score with: the original's window grid, so scores compare with the
# original's and the paper's.
SCORING = SeparationOptions(windows="original")
