"""The GPU check: what training, separation and the study's plan cost on one accelerator, per backend.

    python benchmarks/gpu_check.py --backend jax|torch [--smoke] [--out FOLDER] [--budget SECONDS]

Written for a machine with one GPU (an H200) and no TensorFlow: every import of TensorFlow fails
here, as it does there. Five parts, each reported as rows of one Markdown table (printed) and in
``FOLDER/gpu_check_<backend>.json``; a part that fails or runs out of time is a row saying so, and
the others still run:

a. the training step (``train_step_fn``) of U1, J1 and L at batch 16, fp32 and bf16: median ms after
   warm-up, J1/U1 and L/U1; under JAX also a bare jitted step of the same model (``stateless_call``,
   ``value_and_grad``, ``stateless_apply``, donated buffers) and U1 bf16's share of the H200's bf16
   dense peak, its FLOPs from XLA's cost analysis;
b. a whole ``wavenet-j train`` run of U1 on the toy corpus (pipeline, validation, checkpoints,
   TensorBoard): steps per second from its ``result.json``;
c. the data pipeline (``batches``, U1 train, batch 16): windows per second against the step's demand;
d. ``separate_track`` of U1 and M4 on 60 s of stereo 44.1 kHz audio: seconds of audio per second;
e. ``wavenet-j study --plan`` at full size on the toy corpus: the training hours the paper's whole
   study needs on this machine (run as shards, so that the models timed before the budget ends count).

Sizes are full (the paper's models) unless ``--smoke``: tiny models, few steps, short audio, every
part in a minute or two on a CPU. ``--budget`` bounds the whole run; each part may use its share,
and what one leaves goes to the next.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

from timing import timed

sys.modules["tensorflow"] = None  # absent where this runs: every import of it fails here too

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BATCH = 16
H200_BF16_DENSE_FLOPS = 989e12
PRECISIONS = (("fp32", None), ("bf16", "mixed_bfloat16"))
STEP_CONFIGS = ("U1", "J1", "L")
TARGETS = {"J1/U1": 0.70, "L/U1": 0.85}
# Each part's share of the budget, in the order the parts run: the pipeline before the training run,
# so that the run finds the corpus's cache made, as every run after a corpus's first does.
SHARES = {"train_step": 0.25, "pipeline": 0.05, "train_run": 0.15, "separation": 0.15, "study_plan": 0.40}
LETTERS = {"train_step": "a", "train_run": "b", "pipeline": "c", "separation": "d", "study_plan": "e"}
SIZES = {
    "full": {
        "configs": [],
        "overrides": {},
        "warmup": 3,
        "steps": 30,
        "corpus": {"train": 6, "test": 3, "seconds": 10.0},
        "train_steps": 500,
        "pipeline_batches": 100,
        "audio_seconds": 60.0,
        "study": ["--with", ""],
        "study_shards": 4,
    },
    "smoke": {
        "configs": ["tiny"],
        "overrides": {"num_frames": 1024, "num_initial_filters": 4, "num_layers": 4},
        "warmup": 1,
        "steps": 3,
        "corpus": {"train": 3, "test": 1, "seconds": 3.0},
        "train_steps": 4,
        "pipeline_batches": 5,
        "audio_seconds": 4.0,
        "study": [
            "--with",
            "tiny",
            "--set",
            "num_frames=1024",
            "--set",
            "num_layers=4",
            "--pairs",
            "U1/J1",
            "--no-tables",
        ],
        "study_shards": 1,
    },
}
# ``wavenet-j`` in a child process, TensorFlow unimportable there too
CLI = "import sys\nsys.modules['tensorflow'] = None\nfrom wavenet_j.cli import main\nmain(sys.argv[1:])"


class Check:
    """The run's settings, rows and results; ``left()`` is the time the running part has left."""

    def __init__(self, backend, smoke, budget, work):
        self.backend, self.smoke, self.sizes, self.work = (
            backend,
            smoke,
            SIZES["smoke" if smoke else "full"],
            work,
        )
        self.rows, self.parts = [], {}
        self.started, self.budget, self.until = time.perf_counter(), budget, 0.0

    def config(self, name, **overrides):
        from wavenet_j.configs import resolve_config

        return resolve_config([name, *self.sizes["configs"]], {**self.sizes["overrides"], **overrides})

    def row(self, part, name, value, unit, note=""):
        self.rows.append({"part": LETTERS[part], "name": name, "value": value, "unit": unit, "note": note})

    def left(self):
        return self.started + self.until * self.budget - time.perf_counter()

    def attempt(self, part, name, function):
        """``function()``, or None with a row naming its error (or that the part's time is spent)."""
        if self.left() <= 0:
            self.row(part, name, None, "", "skipped: the part's share of --budget is spent")
            return None
        try:
            return function()
        except Exception as error:  # one failure is a row, and the rest of the check still runs
            text = str(error).strip().splitlines()
            self.row(
                part, name, None, "", f"failed: {type(error).__name__}: {text[-1] if text else ''}"[:300]
            )
            return None

    def cli(self, arguments, timeout):
        """``wavenet-j ARGUMENTS`` in a child process on this backend; its stdout, or RuntimeError."""
        environment = dict(os.environ, KERAS_BACKEND=self.backend, PYTHONPATH=ROOT)
        try:
            done = subprocess.run(
                [sys.executable, "-c", CLI, *arguments],
                capture_output=True,
                text=True,
                timeout=max(timeout, 1),
                env=environment,
                cwd=self.work,
            )
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"wavenet-j {arguments[0]} ran past {error.timeout:.0f} s") from error
        if done.returncode:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise RuntimeError(
                f"wavenet-j {arguments[0]} exited {done.returncode}: {lines[-1] if lines else ''}"
            )
        return done.stdout


def random_batch(config):
    """A NumPy training batch ``(mix, targets)`` of ``config``'s shapes, as the pipeline gives them."""
    import numpy as np

    from wavenet_j.models import get_padding

    rng = np.random.default_rng(0)
    input_frames, output_frames = get_padding(config)
    channels = config["num_channels"]
    mix = rng.uniform(-0.5, 0.5, (BATCH, input_frames, channels)).astype(np.float32)
    targets = {
        s: rng.uniform(-0.5, 0.5, (BATCH, output_frames, channels)).astype(np.float32)
        for s in config["source_names"]
    }
    return mix, targets


def bare_jax_step(model, optimizer, config):
    """``(compiled step, its state)``: the smallest jitted JAX training step of ``model``, the per-source
    MSE through ``stateless_call``, Adam through ``stateless_apply``, the state's buffers donated.
    ``step(*state, mix, targets) -> (loss, *state)``."""
    import jax
    from keras import ops

    sources = config["source_names"]

    def loss_fn(trainable, non_trainable, mix, targets):
        outputs, non_trainable = model.stateless_call(trainable, non_trainable, mix, training=True)
        errors = [ops.mean(ops.square(ops.cast(outputs[s], "float32") - targets[s])) for s in sources]
        return sum(errors) / len(sources), non_trainable

    gradient = jax.value_and_grad(loss_fn, has_aux=True)

    def step(trainable, non_trainable, optimizer_values, mix, targets):
        (loss, non_trainable), gradients = gradient(trainable, non_trainable, mix, targets)
        trainable, optimizer_values = optimizer.stateless_apply(optimizer_values, gradients, trainable)
        return loss, trainable, non_trainable, optimizer_values

    groups = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
    state = [[v.value for v in group] for group in groups]
    return jax.jit(step, donate_argnums=(0, 1, 2)), state


def compiled_flops(lowered):
    """``(compiled program, its FLOPs or None, where the count comes from)`` from XLA's cost analysis."""
    compiled = lowered.compile()
    for source, analysis in (("compiled", compiled.cost_analysis), ("lowered", lowered.cost_analysis)):
        try:
            costs = analysis()
        except Exception:  # not every JAX version and platform has it
            continue
        costs = costs[0] if isinstance(costs, (list, tuple)) else costs
        if costs and costs.get("flops"):
            return compiled, float(costs["flops"]), f"XLA cost analysis of the {source} step"
    return compiled, None, "no XLA cost analysis with FLOPs on this JAX and platform"


def measure_step(check, name, label, precision):
    """One row of part a: the project's step, and under JAX the bare step and its FLOPs."""
    from wavenet_j.training.loop import model_and_optimizer, train_step_fn

    sizes = check.sizes
    config = check.config(name, batch_size=BATCH, mixed_precision=precision)
    model, optimizer = model_and_optimizer(config)
    step = train_step_fn(model, optimizer, config, BATCH)
    mix, targets = random_batch(config)
    result = {"ms": 1000 * timed(lambda: float(step(mix, targets)), sizes["steps"], sizes["warmup"])[1]}
    if check.backend == "jax":
        step.sync()  # the project's step holds the weights; the bare step starts from them
        jitted, state = bare_jax_step(model, optimizer, config)
        compiled, result["flops"], result["flops_source"] = compiled_flops(jitted.lower(*state, mix, targets))

        def bare():
            nonlocal state
            loss, *state = compiled(*state, mix, targets)
            return float(loss)

        result["bare_ms"] = 1000 * timed(bare, sizes["steps"], sizes["warmup"])[1]
    return result


def part_train_step(check):
    part = "train_step"
    results = check.parts[part] = {"batch": BATCH, "ms": {}, "ratios": {}}
    for label, precision in PRECISIONS:
        for name in STEP_CONFIGS:
            key = f"{name} {label}"
            result = check.attempt(part, f"{key} step", lambda: measure_step(check, name, label, precision))
            if result is None:
                continue
            results["ms"][key] = result
            note = f"median of {check.sizes['steps']} after {check.sizes['warmup']} warm-up"
            check.row(part, f"{key} step", result["ms"], "ms", note)
            if "bare_ms" in result:
                check.row(
                    part,
                    f"{key} bare jitted JAX step",
                    result["bare_ms"],
                    "ms",
                    f"project / bare {result['ms'] / result['bare_ms']:.2f}",
                )
        for name in STEP_CONFIGS[1:]:
            ratio, base = results["ms"].get(f"{name} {label}"), results["ms"].get(f"U1 {label}")
            if ratio and base:
                value = results["ratios"][f"{name}/U1 {label}"] = ratio["ms"] / base["ms"]
                target = TARGETS[f"{name}/U1"]
                met = "met" if value <= target else "not met"
                check.row(part, f"{name}/U1 {label}", value, "ratio", f"target <= {target}: {met}")
    u1 = results["ms"].get("U1 bf16", {})
    if check.backend == "jax" and u1:
        if u1["flops"]:
            for which in ("ms", "bare_ms"):
                share = u1["flops"] / (u1[which] / 1000) / H200_BF16_DENSE_FLOPS
                results[f"U1_bf16_share_of_peak_{which[:-3] or 'project'}"] = share
            check.row(
                part,
                "U1 bf16 share of the H200's bf16 dense peak",
                100 * results["U1_bf16_share_of_peak_project"],
                "%",
                f"{u1['flops'] / 1e9:.1f} GFLOP a step ({u1['flops_source']}) / the project's step time / "
                f"989 TFLOP/s; bare step {100 * results['U1_bf16_share_of_peak_bare']:.2f}%",
            )
        else:
            check.row(part, "U1 bf16 share of the H200's bf16 dense peak", None, "", u1["flops_source"])


def part_pipeline(check):
    from wavenet_j.data.pipeline import batches

    part = "pipeline"
    config = check.config("U1", musdb_path=check.corpus, data_path=os.path.join(check.work, "data"))
    count = check.sizes["pipeline_batches"]

    def measure():
        iterator = batches(config, "train", batch_size=BATCH)
        next(iterator)  # makes the corpus's cache, starts the workers
        start = time.perf_counter()
        for _ in range(count):
            next(iterator)
        rate = count * BATCH / (time.perf_counter() - start)
        if hasattr(iterator, "close"):
            iterator.close()
        return rate

    rate = check.attempt(part, "U1 train windows", measure)
    if rate is None:
        return
    results = check.parts[part] = {"windows_per_second": rate, "vs_step_demand": {}}
    check.row(part, "U1 train windows", rate, "windows/s", f"batches(batch_size={BATCH}), {count} batches")
    for label, _ in PRECISIONS:
        step = check.parts["train_step"]["ms"].get(f"U1 {label}")
        if step:
            ratio = results["vs_step_demand"][label] = rate / (BATCH / (step["ms"] / 1000))
            check.row(
                part,
                f"pipeline / U1 {label} step demand",
                ratio,
                "x",
                f"demand {BATCH / (step['ms'] / 1000):.0f} windows/s",
            )


def part_train_run(check):
    import glob

    part = "train_run"
    steps = check.sizes["train_steps"]
    runs, logs = os.path.join(check.work, "runs"), os.path.join(check.work, "logs")
    sets = {
        "musdb_path": check.corpus,
        "data_path": os.path.join(check.work, "data"),
        "model_base_dir": runs,
        "log_dir": logs,
        "epoch_it": steps,
        "max_epochs": 1,
        "schedule": [[1, 1e-4]],
        "checkpoint_steps": max(1, steps // 2),
        **check.sizes["overrides"],
    }
    arguments = ["train", "U1", *check.sizes["configs"], "--id", "gpu-check"]
    arguments += [f"--set={key}={value}" for key, value in sets.items()]

    def run():
        start = time.perf_counter()
        check.cli(arguments, check.left())
        wall = time.perf_counter() - start
        with open(os.path.join(runs, "gpu-check", "result.json"), encoding="utf-8") as handle:
            result = json.load(handle)
        return {
            "steps": result["steps"],
            "train_seconds": result["train_seconds"],
            "steps_per_second": result["steps"] / result["train_seconds"],
            "wall_seconds": wall,
            "best_model": os.path.exists(os.path.join(runs, "gpu-check", "best.keras")),
            "checkpoints": len(glob.glob(os.path.join(runs, "gpu-check", "checkpoints", "*"))),
            "tensorboard_event_files": len(
                glob.glob(os.path.join(logs, "gpu-check", "**", "events.*"), recursive=True)
            ),
        }

    result = check.attempt(part, "wavenet-j train U1", run)
    if result is None:
        return
    check.parts[part] = result
    step = check.parts["train_step"]["ms"].get("U1 fp32")
    note = (
        f"{result['steps']} steps in {result['train_seconds']:.1f} s of training "
        f"({result['wall_seconds']:.1f} s in all); best.keras "
        f"{'written' if result['best_model'] else 'MISSING'}, {result['checkpoints']} checkpoint files, "
        f"{result['tensorboard_event_files']} TensorBoard event files"
    )
    if step:
        result["vs_step_rate"] = result["steps_per_second"] * step["ms"] / 1000
        note += f"; {100 * result['vs_step_rate']:.0f}% of part a's U1 fp32 step rate"
    check.row(part, "wavenet-j train U1, one epoch", result["steps_per_second"], "steps/s", note)


def part_separation(check):
    import numpy as np

    from wavenet_j.models import build_separator
    from wavenet_j.separation import separate_track

    part, rate, seconds = "separation", 44100, check.sizes["audio_seconds"]
    results = check.parts[part] = {"audio_seconds": seconds}
    mix = np.random.default_rng(0).uniform(-0.5, 0.5, (round(seconds * rate), 2)).astype(np.float32)

    def measure(name):
        model = build_separator(check.config(name))
        start = time.perf_counter()
        separate_track(model, mix, rate)
        first = time.perf_counter() - start
        best = timed(lambda: separate_track(model, mix, rate), repeats=2, warmup=0)[0]
        return {"first_call_seconds": first, "seconds": best, "audio_seconds_per_second": seconds / best}

    for name in ("U1", "M4"):
        result = check.attempt(part, f"separate_track {name}", lambda: measure(name))
        if result is not None:
            results[name] = result
            check.row(
                part,
                f"separate_track {name}",
                result["audio_seconds_per_second"],
                "s of audio/s",
                f"{seconds:g} s stereo 44.1 kHz in {result['seconds']:.2f} s (best of 2; first call "
                f"{result['first_call_seconds']:.1f} s)",
            )


def hours(text):
    """Hours of one of ``wavenet-j``'s durations: ``"45 s"``, ``"12 min"``, ``"3.5 h"``."""
    value, unit = text.split()
    return float(value) / {"s": 3600, "min": 60, "h": 1}[unit]


def part_study_plan(check):
    part = "study_plan"
    shards = check.sizes["study_shards"]
    sets = {
        "musdb_path": check.corpus,
        "data_path": os.path.join(check.work, "data"),
        "model_base_dir": os.path.join(check.work, "study-runs"),
        "log_dir": os.path.join(check.work, "study-logs"),
    }
    arguments = ["study", *check.sizes["study"], *(f"--set={key}={value}" for key, value in sets.items())]
    arguments += ["-o", os.path.join(check.work, "study"), "--plan"]
    results = check.parts[part] = {"models": {}, "shard_hours": {}, "shards": shards}
    for index in range(shards):
        shard = ["--shard", f"{index}/{shards}"] if shards > 1 else []
        plan = check.attempt(
            part, f"study plan shard {index}/{shards}", lambda: check.cli(arguments + shard, check.left())
        )
        if plan is None:
            continue
        total = re.search(r"at least (\S+ (?:s|min|h)) in all", plan)
        results["shard_hours"][index] = hours(total.group(1))
        for line in plan.splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == 5 and cells[0] != "model" and not cells[0].startswith("-"):
                results["models"][cells[0]] = {
                    "action": cells[1],
                    "step_seconds_batch": cells[2],
                    "steps": cells[3],
                    "time": cells[4],
                }
    if not results["shard_hours"]:
        return
    results["total_hours"] = sum(results["shard_hours"].values())
    complete = len(results["shard_hours"]) == shards
    where = "full size" if not check.smoke else "tiny"
    check.row(
        part,
        "study plan: training time of the whole study"
        if complete
        else "study plan: training time, shards timed",
        results["total_hours"],
        "h",
        f"{len(results['models'])} models at {where} on this machine (a lower bound: early stopping "
        "decides), "
        f"{len(results['shard_hours'])} of {shards} shards",
    )


PARTS = {
    "train_step": part_train_step,
    "pipeline": part_pipeline,
    "train_run": part_train_run,
    "separation": part_separation,
    "study_plan": part_study_plan,
}


def machine(backend):
    """Date, accelerator and versions, as the benchmarks' README states them."""
    import keras
    import numpy as np

    info = {
        "date": datetime.date.today().isoformat(),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "keras": keras.__version__,
        "numpy": np.__version__,
        "backend": backend,
    }
    if backend == "jax":
        import jax

        info["jax"] = jax.__version__
        info["device"] = f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind}"
    else:
        import torch

        info["torch"] = torch.__version__
        info["device"] = f"cuda: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "cpu"
    return info


def table(rows):
    lines = ["| part | measurement | value | unit | notes |", "|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda row: row["part"]):  # stable: each part's rows in the order measured
        value = "–" if row["value"] is None else f"{row['value']:.4g}"
        lines.append(f"| {row['part']} | {row['name']} | {value} | {row['unit']} | {row['note']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["jax", "torch"], required=True)
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, few steps: every part on a CPU in minutes"
    )
    parser.add_argument("--out", default="gpu_check_results", help="folder of gpu_check_<backend>.json")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run (420)")
    args = parser.parse_args()
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    os.makedirs(args.out, exist_ok=True)
    from wavenet_j.data.toy import make_toy_corpus

    with tempfile.TemporaryDirectory() as work:
        check = Check(args.backend, args.smoke, args.budget, work)
        report = {"machine": machine(args.backend), "smoke": args.smoke, "budget_seconds": args.budget}
        print(
            f"{report['machine']['date']}, {report['machine']['device']}, {report['machine']}",
            file=sys.stderr,
        )
        check.corpus = make_toy_corpus(os.path.join(work, "toy_musdb"), **check.sizes["corpus"])
        for name, part in PARTS.items():
            check.until += SHARES[name]
            start = time.perf_counter()
            check.attempt(name, name, lambda: part(check))
            if not any(row["part"] == LETTERS[name] for row in check.rows):
                check.row(name, name, None, "", "no measurement")
            print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    report.update(seconds=time.perf_counter() - check.started, parts=check.parts, rows=check.rows)
    path = os.path.join(args.out, f"gpu_check_{args.backend}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)
    info = report["machine"]
    versions = ", ".join(f"{key} {info[key]}" for key in ("keras", args.backend, "numpy", "python"))
    print(f"\n## {args.backend}{' (smoke)' if args.smoke else ''}: {info['device']}, {info['cpus']} CPUs\n")
    print(f"{info['date']}, {versions}; {report['seconds']:.0f} s in all; {path}\n")
    print(table(check.rows))


if __name__ == "__main__":
    main()
