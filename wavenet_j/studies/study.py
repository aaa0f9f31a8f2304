"""The J-Net study as one resumable job: train what has no result, evaluate, compare, draw.

Every model is a named config plus the study's base configs (e.g. ``tiny``) and overrides, trained
as the experiment ``<study>-<model>`` under ``model_base_dir`` and evaluated into
``<out>/results/<model>[_<k>stages]``. A finished training run or evaluated track is reused, never
redone. Each model's record (``<out>/models/<model>.json``: its run, training time, results
folders, test set, failures) is written by whichever machine ran it, so shards of a study can
share one output folder; ``<out>/study.json`` gathers them with the report.
"""
import json
import os
import time

import numpy as np

from wavenet_j.atomic import write_text
from wavenet_j.configs import ConfigError, resolve_config
from wavenet_j.data.pipeline import musdb_root
from wavenet_j.data.tracks import DataError, detect_is_wav, musdb_tracks
from wavenet_j.evaluation.musdb import evaluate_model, load_scores
from wavenet_j.evaluation.statistics import STATISTICS, summarize
from wavenet_j.studies.correlation import StudyError, correlate, quadrant_share
from wavenet_j.studies.figures import pair_scatter
from wavenet_j.studies.paper import PAIRS, TABLES

SOURCES = ("vocals", "accompaniment")


class Study:
    """Trains and evaluates the models of a study on demand, remembering where each number came from.

    With ``train=False`` (merging what shards wrote) nothing is trained or evaluated: a model
    without a record of its scores is a gap.
    """

    def __init__(self, out_dir, base=("tiny",), study_id="study", overrides=None, windows="original", train=True):
        self.out_dir, self.base, self.study_id, self.windows = out_dir, list(base), study_id, windows
        self.overrides, self.train = dict(overrides or {}), train
        self.gaps, self.test_set = {}, None

    def config(self, name):
        return resolve_config([name, *self.base], self.overrides)

    def check(self, names, corpus=True):
        """Every model's config (and, with ``corpus``, its corpus) before anything is trained: an error
        here names the model and what is wrong, where a failure inside one model's run only leaves a gap."""
        roots = set()
        for name in dict.fromkeys(names):
            try:
                config = self.config(name)
                root = musdb_root(config) if corpus else None
                if corpus and root not in roots:
                    detect_is_wav(root)
                    roots.add(root)
            except (ConfigError, DataError) as error:
                raise StudyError(f"{name}: {error}") from error

    def run_dir(self, name):
        from wavenet_j.training import run_paths

        return run_paths(self.config(name), f"{self.study_id}-{name}")[0]

    def record(self, name):
        """``{"run", "train_seconds", "results": {stages: folder under out}, "test_set", "failures"}``."""
        path = os.path.join(self.out_dir, "models", f"{name}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        return {"run": None, "train_seconds": 0.0, "results": {}, "test_set": None, "failures": {}}

    def _save(self, name, record):
        write_text(os.path.join(self.out_dir, "models", f"{name}.json"), json.dumps(record, indent=1, sort_keys=True))

    def trained(self, name):
        """The best model of ``name``, training it (or resuming its run) if it has no result yet."""
        from wavenet_j.training import Trainer

        run_dir = self.run_dir(name)
        if not os.path.exists(os.path.join(run_dir, "result.json")):
            started = time.time()
            Trainer(self.config(name), f"{self.study_id}-{name}").fit()
            record = self.record(name)
            record.update(run=run_dir, train_seconds=record["train_seconds"] + round(time.time() - started, 1))
            self._save(name, record)
        return os.path.join(run_dir, "best.keras")

    def scores(self, name, stages=1):
        """``{track: {source: {metric: [...]}}}`` of ``name`` on the test set, evaluated if needed."""
        label = name if stages == 1 else f"{name}_{stages}stages"
        record = self.record(name)
        if str(stages) not in record["results"]:
            if not self.train:
                self.gaps[label] = record["failures"].get(label, "no shard has scored it")
                return None
            results = os.path.join("results", label)
            try:
                model = self.trained(name)
                root = musdb_root(self.config(name))
                evaluate_model(model, os.path.join(self.out_dir, results), root,
                               separation={"stages": stages, "windows": self.windows})
            except Exception as error:  # a failed run is a marked gap in the outputs, never a silent number
                self.gaps[label] = f"{type(error).__name__}: {error}"
                record = self.record(name)
                record["failures"][label] = self.gaps[label]
                self._save(name, record)
                return None
            record = self.record(name)
            record["failures"].pop(label, None)
            record["results"][str(stages)] = results
            record.update(run=self.run_dir(name), test_set=sorted(t.name for t in musdb_tracks(root, "test")))
            self._save(name, record)
        self.test_set = self.test_set or record["test_set"]
        if record["test_set"] != self.test_set:
            raise StudyError(f"{label} was evaluated on another test set ({len(record['test_set'])} tracks) than "
                             f"the study's ({len(self.test_set)}); use one corpus for every model")
        return load_scores(os.path.join(self.out_dir, record["results"][str(stages)]))

    def plan(self, needed):
        """One row per model of ``needed`` (``[(model, stages)]``): what a run would do, and its time.

        The time is this machine's median seconds per training step of the model (timed on random
        data) times the schedule's steps; without ``max_epochs`` early stopping decides the length,
        so the steps are a lower bound (every stage stopping as early as it can).
        """
        from wavenet_j.training import step_seconds

        rows = []
        for name in dict.fromkeys(model for model, _ in needed):
            record, run_dir = self.record(name), self.run_dir(name)
            missing = [stages for model, stages in needed if model == name and str(stages) not in record["results"]]
            checkpoints = _latest_step(os.path.join(run_dir, "checkpoints"))
            if not missing:
                action = "reuse its scores"
            elif os.path.exists(os.path.join(run_dir, "result.json")):
                action = "evaluate (training reused)"
            elif checkpoints is not None:
                action = f"resume training at step {checkpoints}, then evaluate"
            else:
                action = "train, then evaluate"
            config = self.config(name)
            row = {"model": name, "action": action, "run": run_dir}
            if action.startswith(("train", "resume")):
                seconds = step_seconds(config)
                low, high = schedule_steps(config)
                row.update(step_seconds=seconds, batch_size=config["batch_size"], steps=[low, high],
                           seconds=[_scaled_seconds(config, seconds, low), high and _scaled_seconds(config, seconds, high)])
            rows.append(row)
        return rows


def _latest_step(folder):
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(folder) if os.path.isdir(folder) else None
    return int(latest.rsplit("-", 1)[1]) if latest else None


def schedule_steps(config):
    """``(fewest, most)`` training steps of the schedule; ``most`` is None without ``max_epochs``.

    A stage ends after ``worse_epochs`` epochs without improvement; stage 1's first epoch always
    improves, so it lasts at least one epoch more. ``max_epochs`` caps every stage.
    """
    cap = config["max_epochs"]
    fewest = [config["worse_epochs"] + (stage == 0) for stage in range(len(config["schedule"]))]
    if cap:
        fewest = [min(epochs, cap) for epochs in fewest]
    stages = len(config["schedule"])
    return sum(fewest) * config["epoch_it"], cap and stages * cap * config["epoch_it"]


def _scaled_seconds(config, seconds_per_step, steps):
    """Seconds for ``steps`` spread evenly over the stages, each stage's steps costing its batch factor."""
    factors = [factor for factor, _ in config["schedule"]]
    return seconds_per_step * steps * sum(factors) / len(factors)


def study_models(pairs=PAIRS, tables=True):
    """``[(model, inference stages)]`` a study scores: the pairs, and with ``tables`` Tables 1-3's
    columns (M4 is the original's number, not trained here)."""
    needed = [(name, 1) for pair in pairs for name in pair]
    if tables:
        needed += [_model_and_stages(column) for paper in TABLES.values() for column in paper if column != "M4"]
    return list(dict.fromkeys(needed))


def _mean_sdr(scores):
    return {source: stats["Mean"] for source, stats in summarize(scores).items()}


def _cell(ours, paper):
    mine = "–" if ours is None or not np.isfinite(ours) else f"{ours:.2f}"
    return mine if paper is None else f"{mine} ({paper:.2f})"


def table_markdown(title, columns, paper):
    """Our statistics with the paper's beside them in parentheses; ``–`` marks a gap."""
    names = list(paper)
    lines = [f"**{title}** (ours, paper in parentheses; SDR in dB)", "",
             "| | | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for source, label in (("vocals", "Voc."), ("accompaniment", "Acc.")):
        for i, statistic in enumerate(STATISTICS):
            cells = [_cell((columns.get(name) or {}).get(source, {}).get(statistic),
                           paper[name][source][statistic]) for name in names]
            lines.append(f"| {label if i == 0 else ''} | {statistic} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table_latex(title, columns, paper):
    names = list(paper)
    rows = [r"\begin{tabular}{ll" + "r" * len(names) + "}", r"\toprule",
            " & & " + " & ".join(n.replace("_", r"\_") for n in names) + r" \\", r"\midrule"]
    for source, label in (("vocals", "Voc."), ("accompaniment", "Acc.")):
        for i, statistic in enumerate(STATISTICS):
            cells = [_cell((columns.get(name) or {}).get(source, {}).get(statistic),
                           paper[name][source][statistic]) for name in names]
            rows.append(f"{label if i == 0 else ''} & {statistic} & " + " & ".join(cells) + r" \\")
    rows += [r"\bottomrule", r"\end{tabular}"]
    return f"% {title}: ours (paper)\n" + "\n".join(rows) + "\n"


def _sharded(needed, shard):
    """The part of ``needed`` one machine of ``shard=(i, n)`` does: every n-th model from the i-th,
    each with all its inference stages (they need its run)."""
    if shard is None:
        return needed
    index, count = shard
    mine = set(list(dict.fromkeys(model for model, _ in needed))[index::count])
    return [(model, stages) for model, stages in needed if model in mine]


def plan_study(out_dir, base=("tiny",), pairs=PAIRS, tables=True, study_id="study", overrides=None, shard=None):
    """What ``run_study`` with these arguments would train and evaluate, and how long (``Study.plan``);
    the configs and corpus are checked first, as a run would."""
    study = Study(out_dir, base, study_id, overrides)
    needed = study_models(pairs, tables)
    study.check([model for model, _ in needed])
    return study.plan(_sharded(needed, shard))


def run_study(out_dir, base=("tiny",), pairs=PAIRS, tables=True, study_id="study", overrides=None,
              windows="original", shard=None, merge=False):
    """The whole study's output under ``out_dir``: figures, correlations, tables, times.

    ``windows`` is the window grid context models are scored on (``separate_track``): the
    original's by default, so the numbers compare with the paper's. ``shard=(i, n)`` trains and
    scores only every n-th model from the i-th (one machine of n sharing ``out_dir``) and draws
    nothing; ``merge=True`` trains nothing and draws from what the shards wrote.
    """
    study = Study(out_dir, base, study_id, overrides, windows, train=not merge)
    needed = study_models(pairs, tables)
    study.check([model for model, _ in needed], corpus=not merge)
    if shard is not None:
        for model, stages in _sharded(needed, shard):
            study.scores(model, stages)
        return {"shard": list(shard), "models": sorted({model for model, _ in _sharded(needed, shard)}),
                "gaps": study.gaps}
    points = {source: {} for source in SOURCES}
    for u_name, j_name in pairs:
        u, j = study.scores(u_name), study.scores(j_name)
        if u is None or j is None:
            continue
        u_mean, j_mean = _mean_sdr(u), _mean_sdr(j)
        for source in points:
            points[source][f"{u_name}/{j_name}"] = (u_mean[source], j_mean[source])
    origin = f"{pairs[0][0]}/{pairs[0][1]}"
    report = {"pairs": [list(p) for p in pairs], "origin": origin, "correlation": {}, "figures": []}
    for source, figure in (("vocals", "fig2_vocals"), ("accompaniment", "fig3_accompaniment")):
        if points[source]:
            report["figures"] += pair_scatter(points[source], origin, f"Mean SDR of {source}: U vs J",
                                              os.path.join(out_dir, figure))
        labels = list(points[source])
        try:
            report["correlation"][source] = {
                "mean_sdr": correlate([points[source][k][0] for k in labels], [points[source][k][1] for k in labels]),
                "first_or_third_quadrant_share": quadrant_share(points[source], origin),
            }
        except StudyError as error:
            report["correlation"][source] = {"gap": str(error)}
        report["correlation"][source]["points"] = points[source]
    if tables:
        report["tables"] = _tables(study, out_dir)
    records = {model: study.record(model) for model, _ in needed}
    report["train_seconds"] = {model: record["train_seconds"] for model, record in records.items()}
    report["gaps"] = study.gaps
    write_text(os.path.join(out_dir, "report.json"), json.dumps(report, indent=1, sort_keys=True))
    write_text(os.path.join(out_dir, "report.md"), _report_markdown(report, out_dir))
    manifest = {"base": study.base, "overrides": study.overrides, "windows": windows, "test_set": study.test_set,
                "models": records, "gaps": study.gaps}
    write_text(os.path.join(out_dir, "study.json"), json.dumps(manifest, indent=1, sort_keys=True))
    return report


def _model_and_stages(column):
    """Table 3's ``U4_2`` is U4 run with 2 inference stages; every other column names a model."""
    model, _, stages = column.rpartition("_")
    return (model, int(stages)) if model in ("U1", "U4") and stages.isdigit() else (column, 1)


def _tables(study, out_dir):
    """Tables 1-3 from our runs, the paper's numbers beside them; M4 (context, 12 layers) is not trained here."""
    written = []
    for title, paper in TABLES.items():
        columns = {}
        for name in paper:
            if name == "M4":
                continue
            scores = study.scores(*_model_and_stages(name))
            columns[name] = summarize(scores) if scores else None
        stem = os.path.join(out_dir, title.lower().replace(" ", ""))
        write_text(stem + ".md", table_markdown(title, columns, paper))
        write_text(stem + ".tex", table_latex(title, columns, paper))
        written += [stem + ".md", stem + ".tex"]
    return written


def _report_markdown(report, out_dir):
    lines = ["# J-Net study", "", f"Pairs (U/J): {', '.join(u + '/' + j for u, j in report['pairs'])}; "
             f"origin {report['origin']}.", ""]
    for source, result in report["correlation"].items():
        if "gap" in result:
            lines.append(f"- {source}: no correlation ({result['gap']})")
            continue
        c = result["mean_sdr"]
        lines.append(f"- {source}, mean SDR over {c['pairs']} pairs: Pearson {c['pearson']:.2f} "
                     f"[{c['pearson_ci95'][0]:.2f}, {c['pearson_ci95'][1]:.2f}], Spearman {c['spearman']:.2f} "
                     f"[{c['spearman_ci95'][0]:.2f}, {c['spearman_ci95'][1]:.2f}]; "
                     f"{100 * result['first_or_third_quadrant_share']:.0f}% of pairs in the first or third quadrant")
    times = ", ".join(f"{name} {seconds:.0f}" for name, seconds in sorted(report["train_seconds"].items()))
    lines += ["", f"Training time per model (s): {times}", ""]
    if report["gaps"]:
        lines += ["Gaps: " + "; ".join(f"{k}: {v}" for k, v in report["gaps"].items()), ""]
    for path in report.get("tables", []):
        if path.endswith(".md"):
            with open(path, encoding="utf-8") as handle:
                lines += [handle.read()]
    return "\n".join(lines) + "\n"


def _validation_loss(study, name):
    with open(os.path.join(os.path.dirname(study.trained(name)), "result.json"), encoding="utf-8") as handle:
        return json.load(handle)["best_validation_loss"]


def _search_study(candidates, out_dir, base, study_id, overrides):
    if not candidates or any(not name.startswith("U") for name in candidates):
        raise StudyError(f"candidates must be U models (their J twins are derived): {candidates}")
    study = Study(out_dir, base, study_id, overrides)
    study.check(list(candidates) + ["J" + name[1:] for name in candidates])  # an unknown name as it was typed
    return study


def plan_search(candidates, out_dir, base=("tiny",), study_id="search", overrides=None):
    """``Study.plan`` rows for a search: every J twin, then every candidate (trained only if in the top k)."""
    study = _search_study(candidates, out_dir, base, study_id, overrides)
    return study.plan([("J" + name[1:], 1) for name in candidates] + [(name, 1) for name in candidates])


def search(candidates, out_dir, base=("tiny",), top_k=2, study_id="search", overrides=None):
    """Rank U variants by their cheap J twins (random frozen encoder), train only the top ``top_k`` as U.

    Ranking uses the validation loss, so the test set stays untouched by the choice. The time
    saved is estimated from the U runs that were trained: their mean time for each U left out.
    """
    study = _search_study(candidates, out_dir, base, study_id, overrides)
    ranking = sorted(((_validation_loss(study, "J" + name[1:]), name) for name in candidates))
    finalists = [(_validation_loss(study, name), name) for _, name in ranking[:top_k]]
    trained = ["J" + name[1:] for name in candidates] + [name for _, name in finalists]
    seconds = {name: study.record(name)["train_seconds"] for name in trained}
    u_times = [seconds[name] for _, name in finalists]
    result = {
        "ranking_by_j_validation_loss": [{"model": name, "j_validation_loss": loss} for loss, name in ranking],
        "finalists_u_validation_loss": {name: loss for loss, name in finalists},
        "chosen": min(finalists)[1],
        "train_seconds": seconds,
        "estimated_seconds_saved": round(float(np.mean(u_times)) * (len(candidates) - len(finalists)), 1),
    }
    write_text(os.path.join(out_dir, "search.json"), json.dumps(result, indent=1))
    return result
