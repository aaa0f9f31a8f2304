"""Scoring separations: BSS Eval v4 as museval computes it, faster."""

from wavenet_j.evaluation.bss import evaluate_track

__all__ = ["evaluate_track"]
