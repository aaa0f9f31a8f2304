"""The benchmark suite: each case warmed up, timed several times, min and median reported.

    python benchmarks/bench.py [--json] [--only matmul separation ...]

Speeds are compared as ratios measured in the same run (``matmul_gflops`` is this machine's
practical ceiling), so the targets in benchmarks/README.md hold on any machine.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from wavenet_j.configs import resolve_config  # noqa: E402
from wavenet_j.models import build_separator  # noqa: E402
from wavenet_j.models.summary import model_flops  # noqa: E402

RATE = 22050


def timed(function, repeats=5, warmup=1):
    """``(min, median)`` seconds of ``function()`` after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), float(np.median(times))


def bench_matmul():
    n = 4096
    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    best, median = timed(lambda: tf.matmul(a, b).numpy(), repeats=5)
    return {"matmul_gflops": round(2 * n ** 3 / best / 1e9, 1), "matmul_median_gflops": round(2 * n ** 3 / median / 1e9, 1)}


def _minute():
    return np.random.default_rng(0).uniform(-0.5, 0.5, (60 * RATE, 2)).astype(np.float32)


def _snr_db(reference, estimate):
    return float(10 * np.log10(np.sum(reference ** 2) / np.sum((reference - estimate) ** 2)))


def bench_separation(results):
    """U1 on a minute of audio: fp32, and the opt-in bf16 and XLA modes with their differences."""
    from wavenet_j.separation import separate_track

    config = resolve_config("U1")
    model = build_separator(config)
    mix = _minute()
    best, median = timed(lambda: separate_track(model, mix, RATE, config), repeats=3)
    windows = -(-len(mix) // config["num_frames"])
    gflops = model_flops(model) * windows / best / 1e9
    out = {"seconds": round(best, 3), "median_seconds": round(median, 3), "times_real_time": round(60 / best, 1),
           "gflops": round(gflops, 1)}
    if "matmul_gflops" in results:
        out["fraction_of_matmul"] = round(gflops / results["matmul_gflops"], 3)
    bf16, _ = timed(lambda: separate_track(model, mix, RATE, config, precision="mixed_bfloat16"), repeats=3)
    exact = separate_track(model, mix, RATE, config)
    fast = separate_track(model, mix, RATE, config, precision="mixed_bfloat16")
    out["bf16"] = {"seconds": round(bf16, 3), "speedup_vs_fp32": round(best / bf16, 2),
                   "max_abs_difference": round(max(float(np.abs(fast[n] - exact[n]).max()) for n in exact), 5),
                   "min_snr_vs_fp32_db": round(min(_snr_db(exact[n], fast[n]) for n in exact), 1)}
    xla, _ = timed(lambda: separate_track(model, mix, RATE, config, jit_compile=True), repeats=3)
    compiled = separate_track(model, mix, RATE, config, jit_compile=True)
    out["xla"] = {"seconds": round(xla, 3), "speedup_vs_plain": round(best / xla, 2),
                  "max_abs_difference": float(max(np.abs(compiled[n] - exact[n]).max() for n in exact))}
    return {"separation": out}


def bench_separation_context():
    """M4 on a minute: the original's windows against the shared-context pass, and the shared
    pass against separate windows on its own grid (the numbers it must equal)."""
    import tensorflow as tf

    from wavenet_j.separation import separate_signal, separate_track, shared_context

    config = resolve_config("M4")
    model = build_separator(config)
    mix = _minute()
    windowed, _ = timed(lambda: separate_track(model, mix, RATE, config, windows="original"), repeats=2)
    shared, _ = timed(lambda: separate_track(model, mix, RATE, config), repeats=2)
    from wavenet_j.separation.segments import SHARED_WINDOWS

    long_model, hop = shared_context(model, SHARED_WINDOWS)
    signal = tf.constant(mix[:30 * RATE])
    separate = tf.function(lambda: separate_signal(model, signal, hop=hop))()  # compiled: eager Keras keeps
    together = tf.function(lambda: separate_signal(long_model, signal, hop=SHARED_WINDOWS * hop))()  # every activation
    difference = max(float(tf.reduce_max(tf.abs(separate[n] - together[n]))) for n in separate)
    # Per window, without the partial last pass a signal of any length ends with:
    one, many = tf.zeros((8,) + model.input_shape[1:]), tf.zeros((1,) + long_model.input_shape[1:])
    per_window, _ = timed(tf.function(lambda: model(one, training=False)), repeats=3)
    per_pass, _ = timed(tf.function(lambda: long_model(many, training=False)), repeats=3)
    return {"separation_context": {
        "windowed_seconds_per_minute": round(windowed, 3), "shared_context_seconds_per_minute": round(shared, 3),
        "shared_vs_windowed_cost": round(shared / windowed, 3),
        "shared_vs_windowed_cost_per_window": round(per_pass / SHARED_WINDOWS / (per_window / 8), 3),
        "shared_vs_windowed_flops_per_window": round(
            model_flops(long_model) / SHARED_WINDOWS / model_flops(model), 3),
        "shared_vs_separate_windows_max_abs_difference": difference}}


def _trainer(name, workdir):
    from wavenet_j.training import Trainer

    config = dict(resolve_config(name), batch_size=16, model_base_dir=os.path.join(workdir, "runs"),
                  log_dir=os.path.join(workdir, "logs"), musdb_path="toy", data_path=os.path.join(workdir, "data"))
    return Trainer(config, name), config


def bench_train_step(results):
    out, flops = {}, {}
    with tempfile.TemporaryDirectory() as workdir:
        for name in ("U1", "J1", "L"):
            trainer, config = _trainer(name, workdir)
            rng = np.random.default_rng(0)
            mix = tf.constant(rng.uniform(-0.5, 0.5, (16, config["num_frames"], 2)).astype(np.float32))
            targets = {s: tf.constant(rng.uniform(-0.5, 0.5, mix.shape).astype(np.float32)) for s in config["source_names"]}
            step = trainer._train_step_fn(16)
            best, _ = timed(lambda: step(mix, targets).numpy(), repeats=3)
            out[name] = round(best, 3)
            flops[name] = model_flops(trainer.model)
    result = {"train_step_s": out, "train_step_ratio": {"J1/U1": round(out["J1"] / out["U1"], 3),
                                                        "L/U1": round(out["L"] / out["U1"], 3)}}
    if "matmul_gflops" in results:  # forward + backward of a fully trained model: 3x the forward FLOPs
        achieved = 3 * flops["U1"] * 16 / out["U1"] / 1e9
        result["train_step_U1_fraction_of_matmul"] = round(achieved / results["matmul_gflops"], 3)
    return result


def bench_pipeline(results):
    from wavenet_j.data.pipeline import get_dataset

    with tempfile.TemporaryDirectory() as workdir:
        config = dict(resolve_config("U1"), musdb_path="toy", data_path=os.path.join(workdir, "data"))
        dataset = iter(get_dataset(config, "train"))
        next(dataset)
        start, count = time.perf_counter(), 50
        for _ in range(count):
            next(dataset)
        per_second = count / (time.perf_counter() - start)
    out = {"pipeline_batches_per_s": round(per_second, 1)}
    if "train_step_s" in results:
        out["pipeline_vs_U1_step_demand"] = round(per_second * results["train_step_s"]["U1"], 1)
    return out


def bench_evaluate():
    import museval
    from scipy.signal import lfilter

    from wavenet_j.evaluation import evaluate_track

    rate, rng = 44100, np.random.default_rng(0)
    references = [lfilter([1.0], [1.0, -0.3 - 0.25 * j], rng.standard_normal((60 * rate, 2)), axis=0) for j in range(2)]
    estimates = [ref + lfilter(0.2 * rng.standard_normal(8), [1.0], references[1 - j], axis=0)
                 + 0.05 * rng.standard_normal(ref.shape) for j, ref in enumerate(references)]
    names = ["a", "b"]
    ours_s, _ = timed(lambda: evaluate_track(dict(zip(names, references)), dict(zip(names, estimates)), rate), repeats=2)
    start = time.perf_counter()
    oracle = museval.evaluate(references, estimates, win=rate, hop=rate)
    museval_s = time.perf_counter() - start
    ours = evaluate_track(dict(zip(names, references)), dict(zip(names, estimates)), rate)
    difference = np.nanmax(np.abs(np.array([ours[n]["SDR"] for n in names]) - oracle[0]))
    return {"evaluate_speedup_vs_museval": round(museval_s / ours_s, 1), "evaluate_seconds": round(ours_s, 3),
            "museval_seconds": round(museval_s, 3), "evaluate_max_sdr_difference_db": float(difference)}


_MEMORY = """
import sys, numpy as np, soundfile
from wavenet_j.configs import resolve_config
from wavenet_j.models import build_separator
from wavenet_j.separation import separate_file, separate_track
name, song, mode = sys.argv[1:]
config = resolve_config(name)
model = build_separator(config)
if mode == "file":
    separate_file(model, song, song + ".stems", config)
else:
    mix, rate = soundfile.read(song, dtype="float32")
    separate_track(model, mix, rate, config)
print(open("/proc/self/status").read())
"""


def _peak_rss_gb(status):
    """VmHWM, this process's own peak: a child's ru_maxrss starts at its parent's size at fork."""
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(int(kib) / 1024 ** 2, 2)


def bench_memory():
    """Peak resident memory separating a 10-minute 44.1 kHz stereo song, each in a fresh process:
    ``wavenet-j separate``'s streaming ``separate_file``, and ``separate_track`` on arrays."""
    import soundfile

    out = {}
    with tempfile.TemporaryDirectory() as workdir:
        song = os.path.join(workdir, "song.wav")
        rng = np.random.default_rng(0)
        with soundfile.SoundFile(song, "w", 44100, 2, subtype="PCM_16") as sound:
            for _ in range(10):
                sound.write(rng.uniform(-0.5, 0.5, (60 * 44100, 2)).astype(np.float32))
        for mode in ("file", "track"):
            for name in ("U1", "M4"):
                result = subprocess.run([sys.executable, "-c", _MEMORY, name, song, mode],
                                        capture_output=True, text=True, check=True)
                out[f"{name}_{mode}"] = _peak_rss_gb(result.stdout)
    return {"separation_10min_peak_rss_gb": out}


CASES = {
    "matmul": lambda results: bench_matmul(),
    "separation": bench_separation,
    "separation_context": lambda results: bench_separation_context(),
    "train_step": bench_train_step,
    "pipeline": bench_pipeline,
    "evaluate": lambda results: bench_evaluate(),
    "memory": lambda results: bench_memory(),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), help="run only these cases")
    args = parser.parse_args()
    results = {}
    for name, case in CASES.items():
        if args.only and name not in args.only:
            continue
        start = time.perf_counter()
        results.update(case(results))
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    with open("/proc/self/status") as status:
        results["peak_rss_gb_this_process"] = _peak_rss_gb(status.read())
    print(json.dumps(results) if args.json else json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
