"""Separating songs: windowed prediction over whole signals, at any rate and channel count."""
from wavenet_j.separation.track import separate_track
from wavenet_j.separation.windows import separate_signal, window_starts

__all__ = ["separate_signal", "separate_track", "window_starts"]
