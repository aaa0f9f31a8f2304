"""Separating songs: windowed prediction over whole signals, at any rate and channel count.

``separate_signal``, the TensorFlow graph of the windows that the exported SavedModel holds, is
imported when it is first named, so the rest runs where TensorFlow cannot be imported.
"""

from wavenet_j.separation.files import separate_file, stem_paths, stem_plan
from wavenet_j.separation.segments import separate_blocks, separation_plan
from wavenet_j.separation.track import separate_track
from wavenet_j.separation.windows import separate_windows, shared_context, window_starts

__all__ = [
    "separate_blocks",
    "separate_file",
    "separate_signal",
    "separate_track",
    "separate_windows",
    "separation_plan",
    "shared_context",
    "stem_paths",
    "stem_plan",
    "window_starts",
]


def __getattr__(name):
    if name == "separate_signal":
        from wavenet_j.separation.graph import separate_signal

        return separate_signal
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
