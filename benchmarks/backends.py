"""Separation throughput of ``separate_track`` on every installed Keras backend, side by side.

    python benchmarks/backends.py [--smoke] [--seconds 30] [--repeats 2] [--json]

U1 and M4 at full size separate random stereo audio at 44.1 kHz (30 s), each backend in its own
process (``KERAS_BACKEND``), after a warm-up call that compiles; the speed is seconds of audio per
second, the best of ``--repeats`` calls. TensorFlow runs with and without XLA (``jit_compile``); JAX
always compiles with XLA; PyTorch runs eagerly. Every backend separates with the weights TensorFlow's
process built (saved as ``.keras``), and the largest difference from TensorFlow's estimates is
reported. Backends that are not installed are named and skipped. ``--smoke`` runs the tiny configs
on 2 s in seconds.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

from timing import timed

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RATE = 44100
CONFIGS = ("U1", "M4")
RUNS = [("tensorflow", False), ("tensorflow", True), ("jax", False), ("torch", False)]  # (backend, XLA)
# the first is the reference the others' estimates are compared with


def measure(backend, folder, jit_compile, seconds, repeats, smoke):
    """Run in a process on ``backend``: ``{config: {...}}``, the estimates saved in ``folder``."""
    import keras
    import numpy as np

    from wavenet_j.configs import resolve_config
    from wavenet_j.models import build_separator
    from wavenet_j.separation import SeparationOptions, separate_track

    mix = np.random.default_rng(0).uniform(-0.5, 0.5, (round(seconds * RATE), 2)).astype(np.float32)
    results = {}
    for name in CONFIGS:
        saved = os.path.join(folder, f"{name}.keras")
        if os.path.exists(saved):
            model = keras.saving.load_model(saved)
        else:
            model = build_separator(resolve_config([name, "tiny"] if smoke else [name]))
            model.save(saved)
        start = time.perf_counter()
        estimates = separate_track(model, mix, RATE, SeparationOptions(jit_compile=jit_compile))
        first = time.perf_counter() - start
        best, _ = timed(
            lambda: separate_track(model, mix, RATE, SeparationOptions(jit_compile=jit_compile)),
            repeats,
            warmup=0,
        )
        np.save(
            os.path.join(folder, f"{backend}-{jit_compile}-{name}.npy"), np.stack(list(estimates.values()))
        )
        results[name] = {
            "first_call_seconds": first,
            "seconds": best,
            "audio_per_second": seconds / best,
        }
    return results


def run_all(seconds, repeats, smoke):
    """``[(label, {config: {...}} or the reason it did not run)]`` for every run in ``RUNS``."""
    import numpy as np

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for backend, jit_compile in RUNS:
            label = backend + (" + XLA" if jit_compile else "")
            if importlib.util.find_spec(backend) is None:
                rows.append((label, f"{backend} is not installed: skipped"))
                continue
            command = [sys.executable, os.path.abspath(__file__), "--worker", backend, folder]
            command += ["--seconds", str(seconds), "--repeats", str(repeats)] + ["--xla"] * jit_compile
            command += ["--smoke"] * smoke
            done = subprocess.run(
                command, env=dict(os.environ, KERAS_BACKEND=backend), capture_output=True, text=True
            )
            if done.returncode:
                rows.append((label, f"failed: {done.stderr.strip().splitlines()[-1]}"))
                continue
            results = json.loads(done.stdout.strip().splitlines()[-1])
            for name, result in results.items():
                reference = np.load(os.path.join(folder, f"tensorflow-False-{name}.npy"))
                estimates = np.load(os.path.join(folder, f"{backend}-{jit_compile}-{name}.npy"))
                result["max_difference_from_tensorflow"] = float(np.abs(estimates - reference).max())
            rows.append((label, results))
    return rows


def table(rows, seconds):
    lines = [
        f"separate_track on {seconds:g} s of stereo audio at 44.1 kHz: seconds of audio per second "
        "(best call; first call, compiling, in parentheses), max difference from TensorFlow",
        "| backend | " + " | ".join(CONFIGS) + " |",
        "|---|" + "---|" * len(CONFIGS),
    ]
    for label, results in rows:
        if isinstance(results, str):
            lines.append(f"| {label} | " + " | ".join([results] + [""] * (len(CONFIGS) - 1)) + " |")
            continue
        cells = [
            f"{r['audio_per_second']:.2f} s/s ({r['first_call_seconds']:.1f} s first), "
            f"{r['max_difference_from_tensorflow']:.1e}"
            for r in (results[name] for name in CONFIGS)
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny configs on 2 s: seconds")
    parser.add_argument("--seconds", type=float, help="seconds of audio (30; 2 with --smoke)")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls after the warm-up (2)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--worker", nargs=2, metavar=("BACKEND", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--xla", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.smoke else 30.0)
    if args.worker:
        print(json.dumps(measure(*args.worker, args.xla, seconds, args.repeats, args.smoke)))
        return
    rows = run_all(seconds, args.repeats, args.smoke)
    print(json.dumps(dict(rows), indent=1) if args.json else table(rows, seconds))


if __name__ == "__main__":
    main()
