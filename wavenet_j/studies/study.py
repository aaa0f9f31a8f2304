"""The J-Net study as one resumable job: train what has no result, evaluate, compare, draw.

Every model is a named config plus the study's base configs (e.g. ``tiny``), trained as the
experiment ``<study>-<model>`` under ``model_base_dir`` and evaluated into
``<out>/results/<model>[_<k>stages]``. A finished training run or evaluated track is reused, never
redone; ``<out>/study.json`` lists for every number the run and results folder it came from.
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
    """Trains and evaluates the models of a study on demand, remembering where each number came from."""

    def __init__(self, out_dir, base=("tiny",), study_id="study", overrides=None, windows="original"):
        self.out_dir, self.base, self.study_id, self.windows = out_dir, list(base), study_id, windows
        self.overrides = dict(overrides or {})
        self.manifest_path = os.path.join(out_dir, "study.json")
        self.manifest = {"base": self.base, "overrides": self.overrides, "models": {}, "gaps": {}}
        if os.path.exists(self.manifest_path):
            with open(self.manifest_path, encoding="utf-8") as handle:
                self.manifest.update(json.load(handle))
            self.manifest.update(base=self.base, overrides=self.overrides)

    def config(self, name):
        return resolve_config([name, *self.base], self.overrides)

    def check(self, names):
        """Every model's config and corpus, before anything is trained: an error here names the
        model and what is wrong, where a failure inside one model's run only leaves a gap."""
        roots = set()
        for name in dict.fromkeys(names):
            try:
                config = self.config(name)
                root = musdb_root(config)
                if root not in roots:
                    detect_is_wav(root)
                    roots.add(root)
            except (ConfigError, DataError) as error:
                raise StudyError(f"{name}: {error}") from error

    def _save(self):
        write_text(self.manifest_path, json.dumps(self.manifest, indent=1, sort_keys=True))

    def trained(self, name):
        """The best model of ``name``, training it (or resuming its run) if it has no result yet."""
        from wavenet_j.training import Trainer, run_paths

        config = self.config(name)
        experiment = f"{self.study_id}-{name}"
        run_dir, _ = run_paths(config, experiment)
        entry = self.manifest["models"].setdefault(name, {"run": run_dir, "train_seconds": 0.0})
        if not os.path.exists(os.path.join(run_dir, "result.json")):
            started = time.time()
            Trainer(config, experiment).fit()
            entry["train_seconds"] += round(time.time() - started, 1)
            self._save()
        return os.path.join(run_dir, "best.keras")

    def scores(self, name, stages=1):
        """``{track: {source: {metric: [...]}}}`` of ``name`` on the test set, evaluated if needed."""
        label = name if stages == 1 else f"{name}_{stages}stages"
        results = os.path.join(self.out_dir, "results", label)
        try:
            model = self.trained(name)
            config = self.config(name)
            root = musdb_root(config)
            evaluate_model(model, results, root, separation={"stages": stages, "windows": self.windows})
        except Exception as error:  # a failed run is a marked gap in the outputs, never a silent number
            self.manifest["gaps"][label] = f"{type(error).__name__}: {error}"
            self._save()
            return None
        self.manifest["gaps"].pop(label, None)
        self.manifest["models"][name].setdefault("results", {})[str(stages)] = results
        tracks = sorted(t.name for t in musdb_tracks(root, "test"))
        test_set = self.manifest.setdefault("test_set", tracks)
        if test_set != tracks:
            raise StudyError(f"{label} was evaluated on another test set ({len(tracks)} tracks) than the study's "
                             f"({len(test_set)}); use one corpus for every model")
        self._save()
        return load_scores(results)


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


def run_study(out_dir, base=("tiny",), pairs=PAIRS, tables=True, study_id="study", overrides=None,
              windows="original"):
    """The whole study's output under ``out_dir``: figures, correlations, tables, times.

    ``windows`` is the window grid context models are scored on (``separate_track``): the
    original's by default, so the numbers compare with the paper's."""
    study = Study(out_dir, base, study_id, overrides, windows)
    study.check([name for pair in pairs for name in pair]
                + ([_model_and_stages(column)[0] for paper in TABLES.values() for column in paper if column != "M4"]
                   if tables else []))
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
    report["train_seconds"] = {name: entry["train_seconds"] for name, entry in study.manifest["models"].items()}
    report["gaps"] = study.manifest["gaps"]
    write_text(os.path.join(out_dir, "report.json"), json.dumps(report, indent=1, sort_keys=True))
    write_text(os.path.join(out_dir, "report.md"), _report_markdown(report, out_dir))
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
    study.trained(name)
    with open(os.path.join(study.manifest["models"][name]["run"], "result.json"), encoding="utf-8") as handle:
        return json.load(handle)["best_validation_loss"]


def search(candidates, out_dir, base=("tiny",), top_k=2, study_id="search", overrides=None):
    """Rank U variants by their cheap J twins (random frozen encoder), train only the top ``top_k`` as U.

    Ranking uses the validation loss, so the test set stays untouched by the choice. The time
    saved is estimated from the U runs that were trained: their mean time for each U left out.
    """
    if not candidates or any(not name.startswith("U") for name in candidates):
        raise StudyError(f"candidates must be U models (their J twins are derived): {candidates}")
    study = Study(out_dir, base, study_id, overrides)
    study.check([name for u_name in candidates for name in (u_name, "J" + u_name[1:])])
    ranking = sorted(((_validation_loss(study, "J" + name[1:]), name) for name in candidates))
    finalists = [(_validation_loss(study, name), name) for _, name in ranking[:top_k]]
    seconds = {name: entry["train_seconds"] for name, entry in study.manifest["models"].items()}
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
