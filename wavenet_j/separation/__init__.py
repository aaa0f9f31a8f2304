"""Separating songs: windowed prediction over whole signals."""
from wavenet_j.separation.windows import separate_signal, window_starts

__all__ = ["separate_signal", "window_starts"]
