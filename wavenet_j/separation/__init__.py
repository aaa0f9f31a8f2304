"""Separating songs: windowed prediction over whole signals, at any rate and channel count.

The options (``SeparationOptions``) load nothing heavy; everything else is imported when it is first
named, so that the CLI and evaluation can build options before Keras starts, and
``separate_signal`` (the TensorFlow graph the exported SavedModel holds) only where TensorFlow runs.
"""

import importlib

from wavenet_j.separation.options import SCORING, SeparationOptions

_LAZY = {
    "separate_blocks": "segments",
    "separation_plan": "segments",
    "separate_file": "files",
    "stem_paths": "files",
    "stem_plan": "files",
    "needs_separating": "files",
    "separate_signal": "graph",
    "separate_track": "track",
    "separate_windows": "windows",
    "shared_context": "windows",
    "window_starts": "windows",
}

__all__ = ["SCORING", "SeparationOptions", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"wavenet_j.separation.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
