"""Score a model on MUSDB:
``python experiments/evaluate.py with cfg.M4 model_path=... [shard=0/2 workers=2]``.

The MUSDB root is ``cfg.model_config.musdb_path``. Per-track museval JSON and the paper's
statistics (``statistics.csv``, ``statistics.md``) go to ``output``; re-running resumes, and an
``output`` that holds the scores of another model or other options is refused.
"""

from sacred import Experiment

from Config import cfg
from wavenet_j.configs import complete_config, corpus_root
from wavenet_j.separation import SCORING, SeparationOptions
from wavenet_j.shards import parse_shard
from wavenet_j.startup import start_backend

ex = Experiment("evaluate", ingredients=[cfg])


@ex.config
def config():
    model_path = None  # .keras model, or an original TF1 checkpoint prefix for the selected config
    output = "results"
    subset = "test"
    stages = SCORING.stages  # progressive inference stages
    windows = SCORING.windows  # context models' window grid: "original", as the paper scores, or "shared"
    shard = "0/1"  # i/n: every n-th track from the i-th
    workers = 1


@ex.automain
def main(cfg, model_path, output, subset, stages, windows, shard, workers):
    if not model_path:
        raise ValueError("give model_path=...")
    start_backend()
    from wavenet_j.data.pipeline import ensure_toy_corpus
    from wavenet_j.evaluation.musdb import evaluate_model
    from wavenet_j.evaluation.statistics import markdown_table

    config = complete_config(cfg["model_config"])
    ensure_toy_corpus(config)
    column = evaluate_model(
        model_path,
        output,
        corpus_root(config),
        config=config,
        subset=subset,
        options=SeparationOptions(stages=stages, windows=windows),
        shard=parse_shard(shard),
        workers=workers,
    )
    print(markdown_table(column))
    return column
