"""The architecture benchmark: sampled Wave-U-Net variants trained as U, J and L, every proxy beside them.

Each variant of ``space.sample_variants`` is trained three ways: ``U-<name>`` (all weights
trained), ``J-<name>`` (random frozen encoder) and ``L-<name>`` (random frozen decoder); U and J are
evaluated on the test set. The training-free proxies are computed on the U variant at
initialisation. Everything about one variant is one record, ``<out>/variants/<name>.json``: the
variant, its overrides, the U and J scores (validation loss, per-epoch validation losses, mean and
median SDR per source, training time), L's, and every proxy with its seconds.

Training and evaluation go through a ``Study`` (runs ``<model_base_dir>/<study_id>-<model>``,
provenance in ``<out>/models/``), so a killed benchmark resumes where it stopped and machines of
``--shard i/n`` share one output folder, as a study's do.
"""

import json
import os

from wavenet_j.atomic import write_text
from wavenet_j.configs import resolve_config
from wavenet_j.evaluation.statistics import summarize
from wavenet_j.shards import shard_of
from wavenet_j.studies.correlation import StudyError
from wavenet_j.studies.figures import rho_against_cost
from wavenet_j.studies.proxies import PROXIES
from wavenet_j.studies.report import proxy_table_markdown
from wavenet_j.studies.scoring import TARGETS, ordered, score_proxies
from wavenet_j.studies.space import describe, sample_variants, variant_overrides
from wavenet_j.studies.study import Study

# How each variant is trained: U (all weights), J (random frozen encoder), L (random frozen decoder).
KINDS = {"U": {}, "J": {"freeze_encoder": True}, "L": {"freeze_decoder": True}}
SCORED = ("U", "J")  # evaluated on the test set; L is a training proxy only (its validation loss)


def validation_curve(log_dir):
    """The validation loss after each epoch of a run, read back from its TensorBoard events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    events = EventAccumulator(log_dir, size_guidance={"tensors": 0})
    events.Reload()
    if "validation/loss" not in events.Tags()["tensors"]:
        return []
    by_step = {
        event.step: float(make_ndarray(event.tensor_proto)) for event in events.Tensors("validation/loss")
    }
    return [by_step[step] for step in sorted(by_step)]


class Benchmark:
    """The ``count`` variants sampled with ``seed``, trained on the ``base`` configs (e.g. ``tiny``)."""

    def __init__(
        self, out_dir, *, count=24, seed=0, base=("tiny",), overrides=None, study_id="bench", train=True
    ):
        self.out_dir = out_dir
        base_config = resolve_config(list(base), overrides)
        self.variants = {f"v{index:03d}": v for index, v in enumerate(sample_variants(count, seed))}
        models = {
            f"{kind}-{name}": {**variant_overrides(variant, base_config), **extra}
            for name, variant in self.variants.items()
            for kind, extra in KINDS.items()
        }
        self.study = Study(
            out_dir, base=base, study_id=study_id, overrides=overrides, variants=models, train=train
        )
        self.gaps = {}

    def names(self, shard=None):
        """The variants' names, or those of one machine of ``shard=(i, n)``: every n-th from the i-th."""
        return shard_of(self.variants, shard)

    def check(self):
        """Every model's config and the corpus, before anything trains: one error naming the model."""
        self.study.check(self.study.variants)

    def _path(self, name):
        return os.path.join(self.out_dir, "variants", f"{name}.json")

    def record(self, name):
        """The variant's record as written so far; ``proxies`` and the kinds fill in as they are done."""
        if os.path.exists(self._path(name)):
            with open(self._path(name), encoding="utf-8") as handle:
                record = json.load(handle)
            if record["overrides"] != self._overrides(name):
                raise StudyError(
                    f"{self._path(name)} holds another variant than {name} of this benchmark "
                    f"(another seed, base or space); use a new output folder"
                )
            return record
        variant = self.variants[name]
        return {
            "name": name,
            "label": describe(variant),
            "variant": variant,
            "overrides": self._overrides(name),
            "proxies": {},
        }

    def _overrides(self, name):
        return json.loads(json.dumps(self.study.variants[f"U-{name}"]))

    def _save(self, record):
        write_text(self._path(record["name"]), json.dumps(record, indent=1, sort_keys=True))

    def _trained(self, model, scored):
        """A kind's entry: its run's validation losses and time, and with ``scored`` its test SDRs."""
        result = self.study.result(model)
        entry = {
            "validation_loss": result["best_validation_loss"],
            "validation_curve": validation_curve(result["log_dir"]),
            "steps": result["steps"],
            "train_seconds": self.study.record(model)["train_seconds"],
        }
        if scored:
            scores = self.study.scores(model)
            if scores is None:
                raise StudyError(self.study.gaps[model])
            statistics = summarize(scores)
            entry["mean_sdr"] = {source: s["Mean"] for source, s in statistics.items()}
            entry["median_sdr"] = {source: s["Med."] for source, s in statistics.items()}
        return entry

    def run_variant(self, name, kinds=tuple(KINDS)):
        """Train, score and measure what ``name``'s record lacks of ``kinds`` and the proxies; a failure
        is a gap, not an end."""
        record = self.record(name)
        try:
            for kind in kinds:
                if kind not in record:
                    if not self.study.train:
                        raise StudyError(f"{kind}-{name} has no record and nothing trains (--merge)")
                    record[kind] = self._trained(f"{kind}-{name}", kind in SCORED)
                    self._save(record)
            if len(record["proxies"]) < len(PROXIES):
                record["proxies"] = self.study.proxies(f"U-{name}")
                self._save(record)
        except Exception as error:  # one variant's failure is a marked gap in the benchmark
            self.gaps[name] = f"{type(error).__name__}: {error}"
        return record

    def plan(self, shard=None):
        """``Study.plan`` rows of the models the variants of ``shard`` still need."""
        needed = []
        for name in self.names(shard):
            record = self.record(name)
            needed += [(f"{kind}-{name}", 1) for kind in KINDS if kind not in record]
        return self.study.plan(needed)


def plan_bench(out_dir, *, shard=None, **options):
    """What ``run_bench`` with these arguments would train, and how long (``Study.plan`` rows); every
    model's config and the corpus are checked first, as a run would."""
    bench = Benchmark(out_dir, **options)
    bench.check()
    return bench.plan(shard)


def run_bench(out_dir, *, shard=None, merge=False, **options):
    """Train, score and measure every variant (those of ``shard=(i, n)`` only, drawing nothing), then
    write ``report.json``, ``report.md`` and the rho-against-cost figure; ``merge=True`` trains nothing
    and reports on what the shards wrote. ``options``: ``Benchmark``'s."""
    bench = Benchmark(out_dir, train=not merge, **options)
    if not merge:
        bench.check()
    names = bench.names(shard)
    for kinds in (SCORED, tuple(KINDS)):  # U and J of every variant first: what the report needs most
        for name in names:
            bench.run_variant(name, kinds)
    if shard is not None:
        return {"shard": list(shard), "variants": names, "gaps": bench.gaps}
    records = [bench.record(name) for name in names]
    scores = score_proxies(records)
    report = {
        "variants": len(records),
        "complete": sum(all(k in r for k in KINDS) and len(r["proxies"]) == len(PROXIES) for r in records),
        "scores": scores,
        "gaps": bench.gaps,
        "figures": rho_against_cost(scores, out_dir),
    }
    write_text(os.path.join(out_dir, "report.json"), json.dumps(report, indent=1, sort_keys=True))
    write_text(os.path.join(out_dir, "report.md"), bench_markdown(report, records))
    return report


def bench_markdown(report, records):
    """``report.md``: the variants, then one table per target."""
    order = ordered(report["scores"])
    lines = [
        "# Proxy benchmark",
        "",
        f"{report['variants']} variants, {report['complete']} with U, J, L and every proxy.",
        "",
        "| variant | differs from U1 by | U vocals mean SDR | U acc. mean SDR | J vocals mean SDR "
        "| U training [s] |",
        "|---|---|---|---|---|---|",
    ]
    for r in records:
        u, j = r.get("U"), r.get("J")
        cells = (
            [f"{u['mean_sdr']['vocals']:.2f}", f"{u['mean_sdr']['accompaniment']:.2f}"] if u else ["–", "–"]
        )
        cells += [f"{j['mean_sdr']['vocals']:.2f}" if j else "–", f"{u['train_seconds']:.0f}" if u else "–"]
        lines.append(f"| {r['name']} | {r['label']} | " + " | ".join(cells) + " |")
    lines.append("")
    for target in TARGETS:
        lines += [proxy_table_markdown(report["scores"], target, order), ""]
    if report["gaps"]:
        lines += ["Gaps: " + "; ".join(f"{k}: {v}" for k, v in report["gaps"].items()), ""]
    return "\n".join(lines)
