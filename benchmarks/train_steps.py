"""The training step of U1, J1 and L on every installed Keras backend, side by side, in one run.

    python benchmarks/train_steps.py [--smoke] [--repeats 3] [--json]

The project's ``train_step_fn`` at full size and batch 16 (``bench.py``'s ``train_step`` case), each
backend in its own process (``KERAS_BACKEND``; TensorFlow unimportable under the others). In each, the
three steps are built, called twice (the first traces and compiles), then timed in turns (U1, J1, L,
U1, ...) so that a change in the machine's load reaches all three alike; the minimum of ``--repeats``
is reported with J1/U1 and L/U1, whose targets are 0.70 and 0.85 (benchmarks/README.md). Backends
that are not installed are named and skipped. ``--smoke`` runs the tiny configs in seconds.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys

from timing import timed_in_turns

if "--worker" in sys.argv and os.environ.get("KERAS_BACKEND") != "tensorflow":
    sys.modules["tensorflow"] = None  # the other backends run where TensorFlow is absent

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BACKENDS = ("tensorflow", "jax", "torch")
CONFIGS = ("U1", "J1", "L")
TARGETS = {"J1/U1": 0.70, "L/U1": 0.85}
BATCH = 16


def measure(smoke, repeats):
    """In a process on one backend: ``{config: minimum seconds of a step}``."""
    import keras
    import numpy as np

    from wavenet_j.configs import resolve_config
    from wavenet_j.models import get_padding
    from wavenet_j.training.loop import model_and_optimizer, train_step_fn

    rng = np.random.default_rng(0)
    steps = {}
    for name in CONFIGS:
        config = resolve_config([name, "tiny"] if smoke else [name], {"batch_size": BATCH})
        model, optimizer = model_and_optimizer(config)
        step = train_step_fn(model, optimizer, config, BATCH)
        input_frames, output_frames = get_padding(config)
        shape = (BATCH, output_frames, config["num_channels"])
        mix = keras.ops.convert_to_tensor(rng.uniform(-0.5, 0.5, (BATCH, input_frames, shape[-1])), "float32")
        targets = {
            s: keras.ops.convert_to_tensor(rng.uniform(-0.5, 0.5, shape), "float32")
            for s in config["source_names"]
        }
        steps[name] = lambda step=step, mix=mix, targets=targets: float(step(mix, targets))
    return dict(zip(steps, timed_in_turns(list(steps.values()), repeats, warmup=2)))


def run_all(smoke, repeats):
    """``{backend: {config: seconds} or the reason it did not run}``."""
    results = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:
            results[backend] = "not installed: skipped"
            continue
        command = [sys.executable, os.path.abspath(__file__), "--worker"]
        command += ["--repeats", str(repeats)] + ["--smoke"] * smoke
        done = subprocess.run(
            command, env=dict(os.environ, KERAS_BACKEND=backend), capture_output=True, text=True
        )
        if done.returncode:
            lines = done.stderr.strip().splitlines()
            results[backend] = f"failed: {lines[-1] if lines else done.returncode}"
            continue
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def table(results):
    lines = [
        "| backend | U1 s | J1 s | L s | J1/U1 (target <= 0.70) | L/U1 (target <= 0.85) |",
        "|---|---|---|---|---|---|",
    ]
    for backend, times in results.items():
        if isinstance(times, str):
            lines.append(f"| {backend} | {times} | | | | |")
            continue
        ratios = [
            f"{times[name] / times['U1']:.3f} ({'met' if times[name] / times['U1'] <= target else 'not met'})"
            for name, target in zip(CONFIGS[1:], TARGETS.values())
        ]
        lines.append(
            f"| {backend} | "
            + " | ".join(f"{times[n]:.3f}" for n in CONFIGS)
            + " | "
            + " | ".join(ratios)
            + " |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the tiny configs: seconds")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps of each config after warm-up (3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.smoke, args.repeats)))
        return
    results = run_all(args.smoke, args.repeats)
    if args.json:
        print(json.dumps(results, indent=1))
        return
    size = "tiny" if args.smoke else "full size"
    print(
        f"{datetime.date.today().isoformat()}, {platform.node()}, {os.cpu_count()} CPUs: train_step_fn at "
        f"{size}, batch {BATCH}, minimum of {args.repeats} steps timed in turns\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
