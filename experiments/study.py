"""The J-Net study: ``python experiments/study.py with base=tiny out_dir=docs/study`` (``base=''`` for full size).

Trains every model of the paper's (U, J) pairs that has no result yet, evaluates it, and writes the
figures, correlations and Tables 1-3 (the paper's numbers beside ours) to ``out_dir``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sacred import Experiment  # noqa: E402

from wavenet_j.studies import run_study  # noqa: E402

ex = Experiment("study")


@ex.config
def config():
    base = "tiny"  # noqa: F841 (named configs added to every model, joined with '+')
    out_dir = "docs/study"  # noqa: F841
    tables = True  # noqa: F841
    windows = "original"  # noqa: F841 (context models' window grid for scoring: "original" or "shared")


@ex.automain
def main(base, out_dir, tables, windows):
    report = run_study(out_dir, base=[name for name in base.split("+") if name], tables=tables, windows=windows)
    return report["correlation"]
