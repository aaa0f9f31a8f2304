"""Separating songs: windowed prediction over whole signals, at any rate and channel count."""

from wavenet_j.separation.files import separate_file, stem_paths, stem_plan
from wavenet_j.separation.segments import separate_blocks, separation_plan
from wavenet_j.separation.track import separate_track
from wavenet_j.separation.windows import separate_signal, shared_context, window_starts

__all__ = [
    "separate_blocks",
    "separate_file",
    "separate_signal",
    "separate_track",
    "separation_plan",
    "shared_context",
    "stem_paths",
    "stem_plan",
    "window_starts",
]
