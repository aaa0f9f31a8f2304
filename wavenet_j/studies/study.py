"""The J-Net study as one resumable job: train what has no result, evaluate, compare, draw.

Every model is a named config plus the study's base configs (e.g. ``tiny``) and overrides, trained
as the experiment ``<study>-<model>`` under ``model_base_dir`` and evaluated into
``<out>/results/<model>[_<k>stages]``. A finished training run or evaluated track is reused, never
redone. Each model's record (``<out>/models/<model>.json``: its run, training time, results
folders, test set, failures) is written by whichever machine ran it, so shards of a study can
share one output folder; ``<out>/study.json`` gathers them with the report.
"""

import dataclasses
import json
import os

from wavenet_j.atomic import write_text
from wavenet_j.configs import ConfigError, corpus_root, resolve_config
from wavenet_j.data.pipeline import ensure_toy_corpus
from wavenet_j.data.tracks import DataError, detect_is_wav, musdb_tracks
from wavenet_j.evaluation.musdb import evaluate_model, load_scores
from wavenet_j.evaluation.statistics import PAPER_SOURCES, summarize
from wavenet_j.separation.options import SCORING
from wavenet_j.shards import shard_of
from wavenet_j.studies.correlation import StudyError, correlate, quadrant_share
from wavenet_j.studies.figures import FIGURES, pair_scatter, rho_against_cost
from wavenet_j.studies.proxies import PROXIES, compute_proxies
from wavenet_j.studies.paper import ORIGINAL_ONLY, PAIRS, TABLES, model_and_stages
from wavenet_j.studies.report import report_markdown, write_tables
from wavenet_j.studies.scoring import proxy_values, score_table


class Study:
    """Trains and evaluates the models of a study on demand, remembering where each number came from.

    With ``train=False`` (merging what shards wrote) nothing is trained or evaluated: a model
    without a record of its scores is a gap.
    """

    def __init__(
        self,
        out_dir,
        *,
        base=("tiny",),
        study_id="study",
        overrides=None,
        separation=SCORING,
        train=True,
        variants=None,
    ):
        self.out_dir, self.base, self.study_id = out_dir, list(base), study_id
        self.separation = separation
        self.overrides, self.train = dict(overrides or {}), train
        self.variants = dict(variants or {})
        self.gaps, self.test_set = {}, None

    def config(self, name):
        """A named config on the study's base, or a model of ``variants`` (``{name: overrides}``, applied
        after the base and before the study's overrides)."""
        if name in self.variants:
            return resolve_config(self.base, {**self.variants[name], **self.overrides})
        return resolve_config([name, *self.base], self.overrides)

    def check(self, names, corpus=True):
        """Every model's config (and, with ``corpus``, its corpus) before anything is trained: an error
        here names the model and what is wrong, where a failure inside one model's run only leaves a gap."""
        roots = set()
        for name in dict.fromkeys(names):
            try:
                config = self.config(name)
                root = _prepared_corpus(config) if corpus else None
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
        write_text(
            os.path.join(self.out_dir, "models", f"{name}.json"), json.dumps(record, indent=1, sort_keys=True)
        )

    def trained(self, name):
        """The best model of ``name``, trained (or its run resumed) if it has no result yet."""
        self.result(name)
        return os.path.join(self.run_dir(name), "best.keras")

    def result(self, name):
        """The summary of ``name``'s finished run (``result.json``), training it first if needed; its
        record's ``train_seconds`` are the training time the run recorded, reused or not."""
        from wavenet_j.training import Trainer

        run_dir = self.run_dir(name)
        result_path = os.path.join(run_dir, "result.json")
        if not os.path.exists(result_path):
            Trainer(self.config(name), f"{self.study_id}-{name}").fit()
        with open(result_path, encoding="utf-8") as handle:
            result = json.load(handle)
        seconds = result.get("train_seconds", result.get("seconds_this_run", 0.0))
        record = self.record(name)
        if (record["run"], record["train_seconds"]) != (run_dir, seconds):
            record.update(run=run_dir, train_seconds=seconds)
            self._save(name, record)
        return result

    def proxies(self, name):
        """``{proxy: {"value", "seconds"}}`` of ``name`` at initialisation, computed once into its record
        (with ``train=False`` only what a record holds)."""
        record = self.record(name)
        known = record.setdefault("proxies", {})
        missing = [proxy for proxy in PROXIES if proxy not in known]
        if missing and self.train:
            known.update(compute_proxies(self.config(name), missing))
            self._save(name, record)
        return known

    def check_pairs(self, pairs):
        """Each pair names the trained model first and its randomly weighted twin second (``U1/J1``),
        so no figure reports the two the wrong way round."""
        for pair in pairs:
            if len(pair) != 2:
                raise StudyError(f"a pair is two models written U/J, e.g. U1/J1; got {'/'.join(pair)!r}")
            self.check(pair, corpus=False)
            u_name, j_name = pair
            u_random, j_random = (self.config(name)["freeze_encoder"] for name in pair)
            if u_random or not j_random:
                hint = f"; did you mean {j_name}/{u_name}?" if u_random and not j_random else ""
                raise StudyError(
                    f"pair {u_name}/{j_name}: a pair is written U/J, the trained model first and its twin "
                    f"with the random frozen encoder (freeze_encoder=True) second{hint}"
                )

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
                root = _prepared_corpus(self.config(name))
                evaluate_model(
                    model,
                    os.path.join(self.out_dir, results),
                    root,
                    options=dataclasses.replace(self.separation, stages=stages),
                )
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
            raise StudyError(
                f"{label} was evaluated on another test set ({len(record['test_set'])} tracks) "
                f"than the study's ({len(self.test_set)}); use one corpus for every model"
            )
        return load_scores(os.path.join(self.out_dir, record["results"][str(stages)]))

    def plan(self, needed):
        """One row per model of ``needed`` (``[(model, stages)]``): what a run would do, and its time.

        The time is this machine's median seconds per training step of the model (timed on random
        data) times the schedule's steps; without ``max_epochs`` early stopping decides the length,
        so the steps are a lower bound (every stage stopping as early as it can).
        """
        from wavenet_j.training import step_seconds
        from wavenet_j.training.checkpoints import latest_step

        rows = []
        for name in dict.fromkeys(model for model, _ in needed):
            record, run_dir = self.record(name), self.run_dir(name)
            missing = [
                stages for model, stages in needed if model == name and str(stages) not in record["results"]
            ]
            checkpoints = latest_step(os.path.join(run_dir, "checkpoints"))
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
                row.update(
                    step_seconds=seconds,
                    batch_size=config["batch_size"],
                    steps=[low, high],
                    seconds=[
                        _scaled_seconds(config, seconds, low),
                        high and _scaled_seconds(config, seconds, high),
                    ],
                )
            rows.append(row)
        return rows


def _prepared_corpus(config):
    """The MUSDB root ``config`` reads, the toy corpus generated first when it reads that."""
    ensure_toy_corpus(config)
    return corpus_root(config)


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
    columns but the original-only ones."""
    needed = [(name, 1) for pair in pairs for name in pair]
    if tables:
        needed += [
            model_and_stages(column)
            for paper in TABLES.values()
            for column in paper
            if column not in ORIGINAL_ONLY
        ]
    return list(dict.fromkeys(needed))


def _mean_sdr(scores):
    return {source: stats["Mean"] for source, stats in summarize(scores).items()}


def _sharded(needed, shard):
    """The part of ``needed`` one machine of ``shard=(i, n)`` does: every n-th model from the i-th,
    each with all its inference stages (they need its run)."""
    mine = set(shard_of(dict.fromkeys(model for model, _ in needed), shard))
    return [(model, stages) for model, stages in needed if model in mine]


def plan_study(
    out_dir, *, base=("tiny",), pairs=PAIRS, tables=True, study_id="study", overrides=None, shard=None
):
    """What ``run_study`` with these arguments would train and evaluate, and how long (``Study.plan``);
    the configs and corpus are checked first, as a run would."""
    study = Study(out_dir, base=base, study_id=study_id, overrides=overrides)
    needed = study_models(pairs, tables)
    study.check_pairs(pairs)
    study.check([model for model, _ in needed])
    return study.plan(_sharded(needed, shard))


def run_study(
    out_dir,
    *,
    base=("tiny",),
    pairs=PAIRS,
    tables=True,
    study_id="study",
    overrides=None,
    separation=SCORING,
    shard=None,
    merge=False,
):
    """The whole study's output under ``out_dir``: figures, correlations, tables, times.

    ``separation`` are the ``SeparationOptions`` models are scored with (each with its stages): the
    original's window grid by default, so the numbers compare with the paper's. ``shard=(i, n)`` trains and
    scores only every n-th model from the i-th (one machine of n sharing ``out_dir``) and draws
    nothing; ``merge=True`` trains nothing and draws from what the shards wrote.
    """
    study = Study(
        out_dir, base=base, study_id=study_id, overrides=overrides, separation=separation, train=not merge
    )
    needed = study_models(pairs, tables)
    study.check_pairs(pairs)
    study.check([model for model, _ in needed], corpus=not merge)
    if shard is not None:
        mine = _sharded(needed, shard)
        for model, stages in mine:
            study.scores(model, stages)
        return {"shard": list(shard), "models": sorted({model for model, _ in mine}), "gaps": study.gaps}
    points = _pair_points(study, pairs)
    origin = f"{pairs[0][0]}/{pairs[0][1]}"
    report = {"pairs": [list(p) for p in pairs], "origin": origin, "correlation": {}, "figures": []}
    for source, source_points in points.items():
        if source_points:
            report["figures"] += pair_scatter(
                source_points, origin, f"Mean SDR of {source}: U vs J", os.path.join(out_dir, FIGURES[source])
            )
        report["correlation"][source] = _correlation(source_points, origin)
    report["proxies"] = _proxy_scores(study, pairs, points)
    report["figures"] += rho_against_cost(report["proxies"], out_dir)
    if tables:
        report["tables"] = write_tables(study, out_dir)
    records = {model: study.record(model) for model, _ in needed}
    report["train_seconds"] = {model: record["train_seconds"] for model, record in records.items()}
    report["gaps"] = study.gaps
    write_text(os.path.join(out_dir, "report.json"), json.dumps(report, indent=1, sort_keys=True))
    write_text(os.path.join(out_dir, "report.md"), report_markdown(report))
    manifest = {
        "base": study.base,
        "overrides": study.overrides,
        "windows": separation.windows,
        "test_set": study.test_set,
        "models": records,
        "gaps": study.gaps,
    }
    write_text(os.path.join(out_dir, "study.json"), json.dumps(manifest, indent=1, sort_keys=True))
    return report


def _pair_points(study, pairs):
    """``{source: {"U/J": (U mean SDR, J mean SDR)}}``; a pair missing either model's scores is left out."""
    points = {source: {} for source in PAPER_SOURCES}
    for u_name, j_name in pairs:
        u, j = study.scores(u_name), study.scores(j_name)
        if u is None or j is None:
            continue
        u_mean, j_mean = _mean_sdr(u), _mean_sdr(j)
        for source in points:
            points[source][f"{u_name}/{j_name}"] = (u_mean[source], j_mean[source])
    return points


def _proxy_scores(study, pairs, points):
    """``score_table`` of every proxy of the pairs' U models against their mean SDR per source, J (the
    J twin's mean SDR of that source, at its training time) beside them."""
    labels = [f"{u}/{j}" for u, j in pairs if f"{u}/{j}" in points[PAPER_SOURCES[0]]]
    twins = dict(label.split("/") for label in labels)
    records = [
        {"name": u, "U": {"train_seconds": study.record(u)["train_seconds"]}, "proxies": study.proxies(u)}
        for u in twins
    ]
    table = proxy_values(records)
    u_seconds = {r["name"]: r["U"]["train_seconds"] for r in records}
    scores = {}
    for source, source_points in points.items():
        table["J"] = {
            "values": {u: source_points[f"{u}/{j}"][1] for u, j in twins.items()},
            "seconds": {u: study.record(j)["train_seconds"] for u, j in twins.items()},
        }
        truth = {f"{source}_mean_sdr": {u: source_points[f"{u}/{j}"][0] for u, j in twins.items()}}
        for proxy, result in score_table(table, truth, u_seconds).items():
            scores.setdefault(proxy, result)["targets"].update(result["targets"])
    return scores


def _correlation(points, origin):
    """The report's entry for one source: correlations and quadrant share, or the gap that prevents them."""
    labels = list(points)
    try:
        result = {
            "mean_sdr": correlate([points[k][0] for k in labels], [points[k][1] for k in labels]),
            "first_or_third_quadrant_share": quadrant_share(points, origin),
        }
    except StudyError as error:
        result = {"gap": str(error)}
    result["points"] = points
    return result
