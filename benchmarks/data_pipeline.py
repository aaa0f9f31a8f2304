"""Training windows per second of the data pipeline, NumPy ``batches`` and tf.data ``get_dataset``.

    python benchmarks/data_pipeline.py [--smoke] [--batches 300] [--workers 2] [--json]

U1 at full size (16,384-sample windows, batch 16) on the toy corpus (6 songs of 10 s, made in a
temporary folder): ``batches`` for train with and without augmentation, and ``get_dataset``'s
tf.data pipeline over the same batches when TensorFlow is importable. Each case is warmed up, then
``--batches`` batches are taken with nothing done with them; "cores" is the process's CPU time over
the wall time (the workers' share of the machine). ``--smoke`` runs the tiny config on a 2-song
corpus in seconds.
"""

import argparse
import datetime
import itertools
import json
import os
import platform
import tempfile
import time

import numpy as np

from wavenet_j.configs import resolve_config
from wavenet_j.data.toy import make_toy_corpus

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # main imports the modules that load TensorFlow

WARMUP = 10  # batches taken before timing: the cache pages read in, the workers' queues filled


def tensorflow_importable():
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def rate(iterator, count, batch_size):
    """``(windows per second, cores)`` over ``count`` batches of ``iterator`` after the warm-up."""
    for _ in itertools.islice(iterator, WARMUP):
        pass
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in itertools.islice(iterator, count):
        pass
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return count * batch_size / wall, cpu / wall


def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the tiny config on a 2-song corpus: seconds")
    parser.add_argument("--batches", type=int, default=300, help="timed batches of each case (300)")
    parser.add_argument("--batch-size", type=int, default=16, help="windows a batch (16)")
    parser.add_argument("--workers", type=int, default=2, help="worker threads (2)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    from wavenet_j.data.pipeline import batches, get_dataset
    from wavenet_j.models import get_padding

    count = 20 if args.smoke else args.batches
    with tempfile.TemporaryDirectory() as folder:
        corpus = os.path.join(folder, "toy_musdb")
        if args.smoke:
            make_toy_corpus(corpus, train=2, test=1, seconds=2)
        else:
            make_toy_corpus(corpus)
        config = resolve_config(
            ["U1", "tiny"] if args.smoke else ["U1"],
            {
                "musdb_path": corpus,
                "data_path": os.path.join(folder, "data"),
                "valid_fraction": 0.5 if args.smoke else 0.25,
            },
        )
        options = dict(batch_size=args.batch_size, workers=args.workers)
        cases = {}
        for augmentation in (True, False):
            setting = config.replace(augmentation=augmentation)
            cases[f"batches, augmentation {'on' if augmentation else 'off'}"] = rate(
                batches(setting, "train", **options), count, args.batch_size
            )
        if tensorflow_importable():
            cases["get_dataset (tf.data), augmentation on"] = rate(
                iter(get_dataset(config.replace(augmentation=True), "train", **options)),
                count,
                args.batch_size,
            )
        else:
            cases["get_dataset (tf.data)"] = None
    input_frames, output_frames = get_padding(config)
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, {cpu_model()}",
        "versions": f"Python {platform.python_version()}, NumPy {np.__version__}",
        "config": "U1 tiny" if args.smoke else "U1",
        "windows": {"input": input_frames, "output": output_frames, "batch": args.batch_size},
        "workers": args.workers,
        "timed_batches": count,
        "windows_per_second": {name: None if r is None else round(r[0]) for name, r in cases.items()},
        "cores": {name: None if r is None else round(r[1], 2) for name, r in cases.items()},
    }
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{results['date']}, {results['machine']}; {results['versions']}")
    print(
        f"{results['config']}: input {input_frames}, output {output_frames} samples, batch "
        f"{args.batch_size}, {args.workers} workers, {count} batches timed after {WARMUP}\n"
    )
    print("| pipeline (train) | windows / s | cores |\n|---|---|---|")
    for name, measured in cases.items():
        cells = "not importable | –" if measured is None else f"{measured[0]:,.0f} | {measured[1]:.2f}"
        print(f"| {name} | {cells} |")


if __name__ == "__main__":
    main()
