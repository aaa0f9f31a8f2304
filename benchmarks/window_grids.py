"""The two window grids of a context model (M3-M6), compared on a trained model.

A context model separates a song window by window. The original Wave-U-Net's ``predict_track``
starts output windows at multiples of the output length (``"original"``); the shared-context
pass starts them at multiples of ``2**num_layers * (output_frames // 2**num_layers)``
(``"shared"``). The grids cut the song in different places, so the estimates differ.

This script trains a context model on the toy corpus (resuming the run if ``--out`` holds it),
separates every toy test track on both grids and prints, per source: the SNR of the shared
grid's estimate against the original grid's (all test tracks pooled), the largest absolute
sample difference, and each grid's SDR against the true sources (median and mean over the
1-second segments of all tracks, NaN segments dropped) with the difference shared - original.

    python benchmarks/window_grids.py [--out /tmp/window-grids] [--config M4 tiny] \\
        [--set epoch_it=80 max_epochs=2]
"""

import argparse
import ast
import os
import time

import numpy as np

from wavenet_j.configs import resolve_config
from wavenet_j.data.tracks import musdb_tracks, read_musdb_track
from wavenet_j.evaluation.bss import evaluate_track
from wavenet_j.evaluation.musdb import references
from wavenet_j.evaluation.statistics import summarize

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the functions import the modules that load TensorFlow

GRIDS = ("original", "shared")


def separate(model, mix, sr, grid):
    """``separate_track`` on one window grid."""
    from wavenet_j.separation import SeparationOptions, separate_track

    return separate_track(model, mix, sr, SeparationOptions(windows=grid))


def compare(model, root):
    """``(SNR dB, max abs difference, {grid: SDR statistics})`` per source over the test tracks."""
    sources = model.model_config["source_names"]
    power, error, peak = (dict.fromkeys(sources, 0.0) for _ in range(3))
    scores = {grid: {} for grid in GRIDS}
    for track in musdb_tracks(root, "test"):
        rate, audio = read_musdb_track(track)
        truth = references(audio, sources)
        estimates = {grid: separate(model, audio[0], rate, grid) for grid in GRIDS}
        for grid, estimate in estimates.items():
            scores[grid][track.name] = evaluate_track(truth, estimate, rate)
        for source in sources:
            original = estimates["original"][source].astype(np.float64)
            difference = original - estimates["shared"][source]
            power[source] += np.sum(original**2)
            error[source] += np.sum(difference**2)
            peak[source] = max(peak[source], float(np.max(np.abs(difference))))
    sdr = {grid: summarize(scores[grid]) for grid in GRIDS}
    return {
        source: (
            10 * np.log10(power[source] / error[source]),
            peak[source],
            {grid: sdr[grid][source] for grid in GRIDS},
        )
        for source in sources
    }


def table(rows):
    lines = [
        "| source | SNR shared vs original (dB) | max abs difference | SDR median original / shared / "
        "difference (dB) | SDR mean original / shared / difference (dB) |",
        "|---|---|---|---|---|",
    ]
    for source, (snr, peak, sdr) in rows.items():
        cells = [
            " / ".join(
                f"{value:.3f}"
                for value in (
                    sdr["original"][statistic],
                    sdr["shared"][statistic],
                    sdr["shared"][statistic] - sdr["original"][statistic],
                )
            )
            for statistic in ("Med.", "Mean")
        ]
        lines.append(f"| {source} | {snr:.1f} | {peak:.2e} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="/tmp/window-grids", help="checkpoints, logs and the toy corpus")
    parser.add_argument("--config", nargs="+", default=["M4", "tiny"], help="named configs, applied in order")
    parser.add_argument(
        "--set",
        nargs="*",
        default=["epoch_it=80", "max_epochs=2"],
        metavar="KEY=VALUE",
        help="config overrides (Python literals)",
    )
    args = parser.parse_args()
    from wavenet_j.data.pipeline import ensure_toy_corpus, get_dataset
    from wavenet_j.interop import load_separator
    from wavenet_j.training import Trainer

    overrides = {key: ast.literal_eval(value) for key, value in (item.split("=", 1) for item in args.set)}
    locations = {key: os.path.join(args.out, key) for key in ("checkpoints", "logs", "data")}
    config = resolve_config(
        args.config,
        {
            **overrides,
            "model_base_dir": locations["checkpoints"],
            "log_dir": locations["logs"],
            "data_path": locations["data"],
        },
    )
    if not config["context"]:
        parser.error(f"{args.config} is not a context model (M3-M6)")

    ensure_toy_corpus(config)
    trainer = Trainer(config, "_".join(args.config + args.set))
    # The seeded initialisation: fit() restores the checkpoint afterwards.
    initial, _ = trainer.validate(get_dataset(trainer.config, "valid"))
    started = time.time()
    result = trainer.fit()
    trained = time.time() - started
    model = load_separator(result["best_model"])
    started = time.time()
    rows = compare(model, trainer.config["corpus_root"])
    print(
        f"\n{' + '.join(args.config)} {' '.join(args.set)}: {result['steps']} steps, "
        f"training {trained:.0f} s "
        f"(this run), validation loss {initial:.6f} at init, best {result['best_validation_loss']:.6f}; "
        f"separation and scoring {time.time() - started:.0f} s\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
