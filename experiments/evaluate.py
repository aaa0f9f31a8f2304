"""Score a model on MUSDB:
``python experiments/evaluate.py with cfg.M4 model_path=... [shard=0/2 workers=2]``.

The MUSDB root is ``cfg.model_config.musdb_path``. Per-track museval JSON and the paper's
statistics (``statistics.csv``, ``statistics.md``) go to ``output``; re-running resumes, and an
``output`` that holds the scores of another model or other options is refused.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # Config.py

from sacred import Experiment  # noqa: E402

from Config import cfg  # noqa: E402
from wavenet_j.startup import start_backend  # noqa: E402

start_backend()
from wavenet_j.data.pipeline import corpus_root, ensure_toy_corpus  # noqa: E402
from wavenet_j.evaluation.musdb import evaluate_model  # noqa: E402
from wavenet_j.evaluation.statistics import markdown_table  # noqa: E402

ex = Experiment("evaluate", ingredients=[cfg])


@ex.config
def config():
    model_path = None  # noqa: F841 (.keras model, or an original TF1 checkpoint prefix for the selected config)
    output = "results"  # noqa: F841
    subset = "test"  # noqa: F841
    stages = 1  # noqa: F841 (progressive inference stages)
    windows = "original"  # noqa: F841 (context models' window grid: "original", as the paper scores, or "shared")
    shard = "0/1"  # noqa: F841 (i/n: every n-th track from the i-th)
    workers = 1  # noqa: F841


@ex.automain
def main(cfg, model_path, output, subset, stages, windows, shard, workers):
    if not model_path:
        raise ValueError("give model_path=...")
    index, count = (int(part) for part in str(shard).split("/"))
    model_config = cfg["model_config"]
    ensure_toy_corpus(model_config)
    column = evaluate_model(
        model_path,
        output,
        corpus_root(model_config),
        model_config=model_config,
        subset=subset,
        separation={"stages": stages, "windows": windows},
        shard=(index, count),
        workers=workers,
    )
    print(markdown_table(column))
    return column
