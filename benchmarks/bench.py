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

import numpy as np

from timing import timed, timed_in_turns
from wavenet_j.configs import resolve_config

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the cases import Keras and TensorFlow

RATE = 22050


def model_flops(model):
    """Multiply-add FLOPs (2 per MAC) of one forward pass of one example, counting the convolutions,
    which hold all but a sliver of the arithmetic."""
    import keras

    from wavenet_j.models.layers import UpsampleConv

    total = 0
    for layer in model.layers:
        # UpsampleConv counts as the conv it stands for, so rates compare with the unfused model's
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, UpsampleConv)):
            positions = layer.output.shape[1:-1]
        elif isinstance(layer, keras.layers.Conv2DTranspose):  # each input position spreads the whole kernel
            positions = layer.input.shape[1:-1]
        else:
            continue
        total += 2 * int(np.prod(positions)) * int(np.prod(layer.kernel.shape))
    return total


def bench_matmul():
    import tensorflow as tf

    n = 4096
    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    best, median = timed(lambda: tf.matmul(a, b).numpy(), repeats=5)
    return {
        "matmul_gflops": round(2 * n**3 / best / 1e9, 1),
        "matmul_median_gflops": round(2 * n**3 / median / 1e9, 1),
    }


def _minute():
    return np.random.default_rng(0).uniform(-0.5, 0.5, (60 * RATE, 2)).astype(np.float32)


def _snr_db(reference, estimate):
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2)))


def bench_separation(results):
    """U1 on a minute of audio: fp32, and the opt-in bf16 and XLA modes with their differences."""
    from wavenet_j.models import build_separator
    from wavenet_j.separation import SeparationOptions, separate_track

    config = resolve_config("U1")
    model = build_separator(config)
    mix = _minute()
    best, median = timed(lambda: separate_track(model, mix, RATE), repeats=3)
    windows = -(-len(mix) // config["num_frames"])
    gflops = model_flops(model) * windows / best / 1e9
    out = {
        "seconds": round(best, 3),
        "median_seconds": round(median, 3),
        "times_real_time": round(60 / best, 1),
        "gflops": round(gflops, 1),
    }
    if "matmul_gflops" in results:
        out["fraction_of_matmul"] = round(gflops / results["matmul_gflops"], 3)
    bf16, _ = timed(
        lambda: separate_track(model, mix, RATE, SeparationOptions(precision="mixed_bfloat16")), repeats=3
    )
    exact = separate_track(model, mix, RATE)
    fast = separate_track(model, mix, RATE, SeparationOptions(precision="mixed_bfloat16"))
    out["bf16"] = {
        "seconds": round(bf16, 3),
        "speedup_vs_fp32": round(best / bf16, 2),
        "max_abs_difference": round(max(float(np.abs(fast[n] - exact[n]).max()) for n in exact), 5),
        "min_snr_vs_fp32_db": round(min(_snr_db(exact[n], fast[n]) for n in exact), 1),
    }
    xla, _ = timed(lambda: separate_track(model, mix, RATE, SeparationOptions(jit_compile=True)), repeats=3)
    compiled = separate_track(model, mix, RATE, SeparationOptions(jit_compile=True))
    out["xla"] = {
        "seconds": round(xla, 3),
        "speedup_vs_plain": round(best / xla, 2),
        "max_abs_difference": float(max(np.abs(compiled[n] - exact[n]).max() for n in exact)),
    }
    return {"separation": out}


def bench_separation_context():
    """M4 on a minute: the original's windows against the shared-context pass, and the shared
    pass against separate windows on its own grid (the numbers it must equal)."""
    import tensorflow as tf

    from wavenet_j.models import build_separator
    from wavenet_j.separation import SCORING, separate_signal, separate_track, shared_context

    config = resolve_config("M4")
    model = build_separator(config)
    mix = _minute()
    windowed, _ = timed(lambda: separate_track(model, mix, RATE, SCORING), repeats=2)
    shared, _ = timed(lambda: separate_track(model, mix, RATE), repeats=2)
    song = np.concatenate([mix] * 4)  # 4 minutes: a song's length, where the last partial pass weighs less
    windowed_song, shared_song = timed_in_turns(
        [
            lambda: separate_track(model, song, RATE, SCORING),
            lambda: separate_track(model, song, RATE),
        ],
        repeats=1,
    )
    from wavenet_j.separation.segments import shared_windows

    count = shared_windows(model)
    long_model, hop = shared_context(model, count)
    signal = tf.constant(mix[: 30 * RATE])
    separate = tf.function(lambda: separate_signal(model, signal, hop=hop))()  # compiled: eager Keras keeps
    together = tf.function(lambda: separate_signal(long_model, signal, hop=count * hop))()  # every activation
    difference = max(float(tf.reduce_max(tf.abs(separate[n] - together[n]))) for n in separate)
    # Per window, without the partial last pass a signal of any length ends with:
    one, many = tf.zeros((8,) + model.input_shape[1:]), tf.zeros((1,) + long_model.input_shape[1:])
    per_window, _ = timed(tf.function(lambda: model(one, training=False)), repeats=3)
    per_pass, _ = timed(tf.function(lambda: long_model(many, training=False)), repeats=3)
    return {
        "separation_context": {
            "windowed_seconds_per_minute": round(windowed, 3),
            "shared_context_seconds_per_minute": round(shared, 3),
            "shared_vs_windowed_cost": round(shared / windowed, 3),
            "shared_vs_windowed_cost_4_minutes": round(shared_song / windowed_song, 3),
            "windows_per_shared_pass": count,
            "shared_vs_windowed_cost_per_window": round(per_pass / count / (per_window / 8), 3),
            "shared_vs_windowed_flops_per_window": round(
                model_flops(long_model) / count / model_flops(model), 3
            ),
            "shared_vs_separate_windows_max_abs_difference": difference,
        }
    }


def _batch(config, batch=16, seed=0):
    """A random training batch ``(mix, targets)`` of ``config``'s shapes."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    mix = tf.constant(rng.uniform(-0.5, 0.5, (batch, config["num_frames"], 2)).astype(np.float32))
    targets = {
        s: tf.constant(rng.uniform(-0.5, 0.5, mix.shape).astype(np.float32)) for s in config["source_names"]
    }
    return mix, targets


def project_step(name, batch=16, jit_compile=False):
    """``(step, model)``: the project's compiled training step of a named config, as training runs it."""
    import tensorflow as tf

    from wavenet_j.training.loop import model_and_optimizer, train_step_fn

    config = resolve_config(name, {"batch_size": batch, "jit_compile": jit_compile})
    model, optimizer = model_and_optimizer(config)
    step = train_step_fn(model, optimizer, config, batch, tf.distribute.get_strategy())
    mix, targets = _batch(config, batch)
    return (lambda: step(mix, targets).numpy()), model


def bench_train_step(results):
    out, flops = {}, {}
    for name in ("U1", "J1", "L"):
        step, model = project_step(name)
        out[name], _ = timed(step, repeats=3)
        out[name] = round(out[name], 3)
        flops[name] = model_flops(model)
    result = {
        "train_step_s": out,
        "train_step_ratio": {
            "J1/U1": round(out["J1"] / out["U1"], 3),
            "L/U1": round(out["L"] / out["U1"], 3),
        },
    }
    if "matmul_gflops" in results:  # forward + backward of a fully trained model: 3x the forward FLOPs
        achieved = 3 * flops["U1"] * 16 / out["U1"] / 1e9
        result["train_step_U1_fraction_of_matmul"] = round(achieved / results["matmul_gflops"], 3)
    result["train_step_xla_speedup"] = {}  # jit_compile=True against the default, timed in turns
    for name in ("U1", "J1"):
        plain, xla = timed_in_turns(
            [project_step(name)[0], project_step(name, jit_compile=True)[0]], repeats=3
        )
        result["train_step_xla_speedup"][name] = round(plain / xla, 3)
    return result


def bench_plain_keras():
    """The project against U1 written with stock Keras layers (``plain_keras.py``), same weights, in one
    run: separating a minute (the project's ``separate_track`` vs ``model.predict`` on the same
    windows) and the U1 and J1 training steps (``train_step_fn`` vs ``compile`` + ``train_on_batch``).
    Ratios above 1 mean the project is faster."""
    import plain_keras
    from wavenet_j.models import build_separator
    from wavenet_j.separation import SeparationOptions, separate_track

    config = resolve_config("U1")
    model = build_separator(config)
    plain = plain_keras.plain_u1()
    plain_keras.copy_weights(model, plain)
    mix = _minute()
    frames = config["num_frames"]
    starts = list(range(0, len(mix) - frames, frames)) + [len(mix) - frames]  # the original's windows: the
    windows = np.stack([mix[start : start + frames] for start in starts])  # last ends at the end and wins

    def plain_separation():
        estimates = plain.predict(windows, batch_size=8, verbose=0)
        return {
            n: np.clip(np.concatenate([e[:-1].reshape(-1, 2)[: starts[-1]], e[-1]]), -1, 1)
            for n, e in estimates.items()
        }

    ours = separate_track(model, mix, RATE)
    theirs = plain_separation()
    difference = max(float(np.abs(ours[n] - theirs[n]).max()) for n in ours)
    out = {"separation_max_abs_difference": difference}
    times = {
        "separation": (lambda: separate_track(model, mix, RATE), plain_separation),
        # wavenet-j separate's default: XLA (compiled in the warm-up, as predict's tracing is)
        "separation_xla": (
            lambda: separate_track(model, mix, RATE, SeparationOptions(jit_compile=True)),
            plain_separation,
        ),
    }
    for name, frozen in (("U1", False), ("J1", True)):
        step, _ = project_step(name)
        trainable = plain_keras.compiled(plain_keras.plain_u1(), frozen_encoder=frozen)
        mix_batch, targets = _batch(config)
        times[f"train_step_{name}"] = (step, lambda m=trainable: m.train_on_batch(mix_batch, targets))
    for case, (project, baseline) in times.items():
        ours_s, theirs_s = timed_in_turns([project, baseline])
        out[case] = {
            "project_s": round(ours_s, 3),
            "plain_keras_s": round(theirs_s, 3),
            "project_speedup": round(theirs_s / ours_s, 3),
        }
    return {"plain_keras": out}


def bench_pipeline(results):
    from wavenet_j.data.pipeline import get_dataset

    with tempfile.TemporaryDirectory() as workdir:
        config = resolve_config("U1", {"musdb_path": "toy", "data_path": os.path.join(workdir, "data")})
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
    references = [
        lfilter([1.0], [1.0, -0.3 - 0.25 * j], rng.standard_normal((60 * rate, 2)), axis=0) for j in range(2)
    ]
    estimates = [
        ref
        + lfilter(0.2 * rng.standard_normal(8), [1.0], references[1 - j], axis=0)
        + 0.05 * rng.standard_normal(ref.shape)
        for j, ref in enumerate(references)
    ]
    names = ["a", "b"]
    ours_s, _ = timed(
        lambda: evaluate_track(dict(zip(names, references)), dict(zip(names, estimates)), rate), repeats=2
    )
    start = time.perf_counter()
    oracle = museval.evaluate(references, estimates, win=rate, hop=rate)
    museval_s = time.perf_counter() - start
    ours = evaluate_track(dict(zip(names, references)), dict(zip(names, estimates)), rate)
    difference = np.nanmax(np.abs(np.array([ours[n]["SDR"] for n in names]) - oracle[0]))
    return {
        "evaluate_speedup_vs_museval": round(museval_s / ours_s, 1),
        "evaluate_seconds": round(ours_s, 3),
        "museval_seconds": round(museval_s, 3),
        "evaluate_max_sdr_difference_db": float(difference),
    }


_MEMORY = """
import sys, numpy as np, soundfile
from wavenet_j.configs import resolve_config
from wavenet_j.models import build_separator
from wavenet_j.separation import separate_file, separate_track
name, song, mode = sys.argv[1:]
config = resolve_config(name)
model = build_separator(config)
if mode == "file":
    separate_file(model, song, song + ".stems")
else:
    mix, rate = soundfile.read(song, dtype="float32")
    separate_track(model, mix, rate)
print(open("/proc/self/status").read())
"""


def _peak_rss_gb(status):
    """VmHWM, this process's own peak: a child's ru_maxrss starts at its parent's size at fork."""
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(int(kib) / 1024**2, 2)


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
                result = subprocess.run(
                    [sys.executable, "-c", _MEMORY, name, song, mode],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                out[f"{name}_{mode}"] = _peak_rss_gb(result.stdout)
    return {"separation_10min_peak_rss_gb": out}


def _step_ms(layer, shapes, input_gradients=True, batch=16):
    """Milliseconds of forward + backward of one layer at training's batch: the gradients of its weights,
    and of its inputs unless they are the mix (``input_gradients=False``)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    inputs = [tf.constant(rng.standard_normal((batch, *shape)), tf.float32) for shape in shapes]
    inputs = inputs if len(inputs) > 1 else inputs[0]
    layer(inputs)
    watched = tf.nest.flatten(inputs) if input_gradients else []

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(watched)
            loss = tf.reduce_sum(tf.square(layer(inputs)))
        return tape.gradient(loss, [*layer.trainable_variables, *watched])

    return round(1000 * timed(lambda: [g.numpy() for g in step()], repeats=3)[0], 1)


def bench_profile():
    """Where U1's training step goes, layer by layer at batch 16: each decoder level as the three layers
    it was (upsampling, concatenation, conv) and as one ``UpsampleConv``; the first conv (2 input
    channels) and an output conv, which run far below the others' FLOP rate."""
    import keras

    from wavenet_j.models.layers import LinearUpsample, UpsampleConv

    config = resolve_config("U1")
    frames, width, merge = config["num_frames"], config["filter_size"], config["merge_filter_size"]
    channels = [config["num_initial_filters"] * (level + 1) for level in range(config["num_layers"] + 1)]
    out = {"decoder_level_ms": {}}
    for level in (0, 1, 2, 3, 5, 8):
        n = frames >> level
        skip, low = (n, channels[level]), (n // 2, channels[level + 1])
        inputs = [keras.Input(skip), keras.Input(low)]
        merged = keras.layers.Concatenate()([inputs[0], LinearUpsample()(inputs[1])])
        conv = keras.layers.Conv1D(channels[level], merge, padding="same", activation="leaky_relu")(merged)
        out["decoder_level_ms"][level] = {
            "three_layers": _step_ms(keras.Model(inputs, conv), [skip, low]),
            "upsample_conv": _step_ms(UpsampleConv(channels[level], merge), [skip, low]),
        }
    first = keras.layers.Conv1D(channels[0], width, padding="same", activation="leaky_relu")
    out["first_conv_ms"] = _step_ms(first, [(frames, 2)], input_gradients=False)
    output = keras.layers.Conv1D(2, 1, activation="tanh")
    out["output_conv_ms"] = _step_ms(output, [(frames, channels[0] + 2)])
    return {"profile": out}


def bench_plain_keras_avx2():
    """``plain_keras`` again in a child process whose oneDNN kernels and XLA's code may use AVX2 at most
    (``ONEDNN_MAX_CPU_ISA=AVX2``, ``--xla_cpu_max_isa=AVX2``): the convolutions of a machine without
    AVX-512, on this one."""
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--json", "--only", "plain_keras"],
        env=dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX2", XLA_FLAGS="--xla_cpu_max_isa=AVX2"),
        capture_output=True,
        text=True,
        check=True,
    )
    return {"plain_keras_avx2": json.loads(result.stdout.strip().splitlines()[-1])["plain_keras"]}


def _first_written(folder, process, least=4096):
    """Seconds until a file under ``folder`` (staged partial stems included) holds ``least`` bytes."""
    start = time.perf_counter()
    while process.poll() is None:
        for parent, _, files in os.walk(folder):
            if any(os.path.getsize(os.path.join(parent, name)) >= least for name in files):
                return time.perf_counter() - start
        time.sleep(0.005)
    raise RuntimeError(f"the command ended ({process.returncode}) before writing to {folder}")


def bench_startup():
    """Fresh processes: ``wavenet-j --help``, ``import wavenet_j``, and ``wavenet-j separate`` on a
    60-s 44.1 kHz stereo song with a saved U1: seconds to the first stem samples on disk, and to the end
    (each run once: a first run compiles, and the others would find its compilation)."""
    import soundfile

    from wavenet_j.models import build_separator

    command = os.path.join(os.path.dirname(sys.executable), "wavenet-j")
    out = {}
    for name, argv in (
        ("help_s", [command, "--help"]),
        ("import_s", [sys.executable, "-c", "import wavenet_j"]),
    ):
        out[name], _ = timed(lambda: subprocess.run(argv, capture_output=True, check=True), repeats=3)
        out[name] = round(out[name], 3)
    with tempfile.TemporaryDirectory() as workdir:
        model_path, song = os.path.join(workdir, "U1.keras"), os.path.join(workdir, "song.wav")
        build_separator(resolve_config("U1")).save(model_path)
        soundfile.write(
            song, np.random.default_rng(0).uniform(-0.5, 0.5, (60 * 44100, 2)), 44100, subtype="PCM_16"
        )
        env = dict(os.environ, WAVENET_J_CACHE=os.path.join(workdir, "cache"))  # starts empty
        # XLA compiling (the default) into the empty cache, XLA from the cache, and without XLA:
        for run, options in (("xla_compiling", []), ("xla_cached", []), ("no_xla", ["--no-xla"])):
            folder = os.path.join(workdir, run)
            start = time.perf_counter()
            process = subprocess.Popen(
                [command, "separate", song, "--model", model_path, "-o", folder, *options],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            first = _first_written(folder, process)
            process.wait()
            out[f"separate_{run}"] = {
                "first_samples_s": round(first, 2),
                "60s_song_s": round(time.perf_counter() - start, 2),
            }
    return {"startup": out}


CASES = {
    "matmul": lambda results: bench_matmul(),
    "separation": bench_separation,
    "separation_context": lambda results: bench_separation_context(),
    "train_step": bench_train_step,
    "profile": lambda results: bench_profile(),
    "plain_keras": lambda results: bench_plain_keras(),
    "plain_keras_avx2": lambda results: bench_plain_keras_avx2(),
    "pipeline": bench_pipeline,
    "evaluate": lambda results: bench_evaluate(),
    "memory": lambda results: bench_memory(),
    "startup": lambda results: bench_startup(),
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
