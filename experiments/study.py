"""The J-Net study: ``python experiments/study.py with cfg.tiny output=docs/study``; at full size
``python experiments/study.py with cfg.model_config.musdb_path=/data/musdb18hq output=results/study``.

Trains every model of the paper's (U, J) pairs that has no result yet, evaluates it, and writes the
figures, correlations and Tables 1-3 (the paper's numbers beside ours) to ``output``. Each model is
its own named config plus whatever ``cfg`` changes from the base: named configs such as
``cfg.tiny`` and ``cfg.model_config.KEY=VALUE``, as ``wavenet-j study --set KEY=VALUE`` does.
"""

import dataclasses

from sacred import Experiment

from Config import cfg
from wavenet_j.configs import BASE_CONFIG
from wavenet_j.separation import SCORING
from wavenet_j.startup import start_backend

ex = Experiment("study", ingredients=[cfg])


@ex.config
def config():
    output = "docs/study"
    tables = True
    windows = SCORING.windows  # context models' window grid for scoring: "original" or "shared"


@ex.automain
def main(cfg, output, tables, windows):
    start_backend()
    from wavenet_j.studies import run_study

    overrides = {
        key: value
        for key, value in cfg["model_config"].items()
        if key in BASE_CONFIG and value != BASE_CONFIG[key]
    }
    separation = dataclasses.replace(SCORING, windows=windows)
    report = run_study(output, base=[], overrides=overrides, tables=tables, separation=separation)
    return report["correlation"]
