"""Separating songs: windowed prediction over whole signals, at any rate and channel count."""
from wavenet_j.separation.track import separate_track
from wavenet_j.separation.windows import separate_signal, shared_context, window_starts

__all__ = ["separate_signal", "separate_track", "shared_context", "window_starts"]
