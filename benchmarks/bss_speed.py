"""Time ``evaluate_track`` against ``museval.evaluate`` on one generated track; print JSON.

Default: 60 s of 44.1 kHz stereo, two sources, 1-second windows. Ours runs first, in a fresh
process, so it pays the one-time costs (FFT plans, first use of memory); museval runs once.

    python benchmarks/bss_speed.py [--seconds 60]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import museval  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import lfilter  # noqa: E402

from wavenet_j.evaluation import evaluate_track  # noqa: E402
from wavenet_j.evaluation.bss import METRICS  # noqa: E402

RATE = 44100


def generated_track(seconds, nsrc=2, nchan=2, seed=0):
    """Coloured-noise references; estimates are references + filtered leakage of the others + noise."""
    rng = np.random.default_rng(seed)
    length = int(seconds * RATE)
    references = [lfilter([1.0], [1.0, -0.3 - 0.25 * j], rng.standard_normal((length, nchan)), axis=0)
                  for j in range(nsrc)]
    estimates = [ref + sum(lfilter(0.2 * rng.standard_normal(8), [1.0], other, axis=0)
                           for k, other in enumerate(references) if k != j)
                 + 0.05 * rng.standard_normal((length, nchan)) for j, ref in enumerate(references)]
    return references, estimates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    references, estimates = generated_track(args.seconds)
    names = [f"source{j}" for j in range(len(references))]

    start = time.perf_counter()
    ours = evaluate_track(dict(zip(names, references)), dict(zip(names, estimates)), RATE)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    oracle = museval.evaluate(references, estimates, win=RATE, hop=RATE)
    museval_s = time.perf_counter() - start

    max_diff = {metric: float(np.nanmax(np.abs(np.array([ours[n][metric] for n in names]) - oracle[m])))
                for m, metric in enumerate(METRICS)}
    print(json.dumps({
        "audio": f"{args.seconds:g} s, {RATE} Hz, stereo, {len(names)} sources, 1 s windows",
        "museval_s": round(museval_s, 3),
        "ours_s": round(ours_s, 3),
        "speedup": round(museval_s / ours_s, 1),
        "max_abs_sdr_diff_db": max_diff["SDR"],
        "max_abs_diff_db": max_diff,
    }, indent=2))


if __name__ == "__main__":
    main()
