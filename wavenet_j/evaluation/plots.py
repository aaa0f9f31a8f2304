"""Figures of a separation: the distribution of segment SDRs per source, several models side by
side, and log-magnitude spectrograms of a mix and its estimates."""

import os

import matplotlib
import matplotlib.ticker
import numpy as np
import scipy.signal
from matplotlib.figure import Figure

from wavenet_j.atomic import atomic_path
from wavenet_j.audio import AudioError, read_audio
from wavenet_j.evaluation.statistics import pooled, source_order

_DYNAMIC_RANGE = 80  # dB below the loudest bin of any panel still coloured, as the ear hears little beneath
_MAX_FRAMES = 2000  # spectrogram columns: a figure's width in pixels, about


def sdr_violins(results, path_base, metric="SDR"):
    """Write ``path_base.png`` and ``.svg``: a panel per source, a violin per model.

    ``results`` is ``{model: {track: {source: {metric: [...]}}}}`` (``load_scores`` of each
    model's folder); each violin pools every segment of every track, non-finite ones dropped, as
    the statistics do. The dot is the median, the bar the mean.
    """
    models = list(results)
    sources = sorted(
        {source for scores in results.values() for track in scores.values() for source in track},
        key=source_order,
    )
    colors = matplotlib.colormaps["tab10"]
    figure = Figure(layout="constrained", figsize=(1.5 + 3.2 * len(sources), 1.4 + 0.55 * len(models)))
    panels = figure.subplots(1, len(sources), sharey=True, squeeze=False)
    for panel, source in zip(panels[0], sources):
        values = {row: pooled(results[model], source, metric) for row, model in enumerate(models)}
        values = {row: segment for row, segment in values.items() if segment.size}
        rows = list(values)
        if rows:
            violins = panel.violinplot(
                list(values.values()), positions=rows, orientation="horizontal", widths=0.8, showextrema=False
            )
            for row, body in zip(rows, violins["bodies"]):
                body.set(facecolor=colors(row % 10), edgecolor="black", linewidth=0.5, alpha=0.6)
            panel.scatter(
                [np.median(v) for v in values.values()], rows, color="black", s=14, zorder=3, label="median"
            )
            panel.scatter(
                [np.mean(v) for v in values.values()],
                rows,
                color="black",
                marker="|",
                s=120,
                zorder=3,
                label="mean",
            )
        panel.set_title(source)
        panel.set_xlabel(f"{metric} per 1-s segment [dB]")
        panel.grid(axis="x", alpha=0.3)
    panels[0, 0].set_yticks(range(len(models)), models)
    panels[0, 0].set_ylim(len(models) - 0.5, -0.5)  # the first model on top
    figure.legend(*panels[0, 0].get_legend_handles_labels(), loc="outside upper right", ncols=2, fontsize=8)
    return save_figure(figure, path_base)


def file_spectrograms(paths, path_base):
    """``spectrograms`` of audio files (a mix, then stems) at one rate, each labelled by its path below
    the folder they share."""
    audio = {path: read_audio(path) for path in map(os.fspath, paths)}
    rates = {rate for _, rate in audio.values()}
    if len(rates) > 1:
        raise AudioError(f"spectrograms need files of one rate, not {sorted(rates)} Hz")
    common = os.path.commonpath([os.path.dirname(os.path.abspath(path)) for path in audio])
    signals = {os.path.relpath(path, common): signal for path, (signal, _) in audio.items()}
    return spectrograms(signals, rates.pop(), path_base)


def spectrograms(signals, rate, path_base):
    """Write ``path_base.png`` and ``.svg``: one log-magnitude spectrogram per signal, stacked.

    ``signals`` is ``{label: [samples, channels] or [samples]}`` at ``rate``; channels are
    averaged. All panels share one colour scale, so a quiet estimate looks quiet, and a
    logarithmic frequency axis, where bass and voice are as wide as cymbals.
    """
    window = 2 ** int(np.log2(rate * 0.05))  # about 50 ms: a note's harmonics resolved, its onset not smeared
    bin_edges = (np.arange(1, window // 2 + 2) - 0.5) * rate / window  # 0 Hz has no place on a log axis
    spectra = {}
    for label, signal in signals.items():
        signal = np.asarray(signal, dtype=np.float64)
        mono = signal.mean(axis=1) if signal.ndim == 2 else signal
        # No more frames than a figure has pixels.
        hop = min(window, max(window // 4, len(mono) // _MAX_FRAMES))
        _, _, stft = scipy.signal.stft(mono, rate, nperseg=window, noverlap=window - hop)
        frame_edges = (np.arange(stft.shape[1] + 1) - 0.5) * hop / rate
        spectra[label] = (frame_edges, 20 * np.log10(np.abs(stft[1:]) + 1e-10))
    loudest = max(db.max() for _, db in spectra.values())
    figure = Figure(layout="constrained", figsize=(9, 0.6 + 2.2 * len(spectra)))
    panels = figure.subplots(len(spectra), 1, sharex=True, squeeze=False)
    for panel, (label, (frame_edges, db)) in zip(panels[:, 0], spectra.items()):
        image = panel.pcolorfast(
            frame_edges,
            bin_edges,
            db,
            cmap="magma",
            rasterized=True,
            vmin=loudest - _DYNAMIC_RANGE,
            vmax=loudest,
        )
        panel.set_yscale("log")
        panel.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        panel.set_title(label, fontsize=10, loc="left")
        panel.set_ylabel("frequency [Hz]")
    panels[-1, 0].set_xlabel("time [s]")
    figure.colorbar(image, ax=panels[:, 0], label="magnitude [dB]", pad=0.02)
    return save_figure(figure, path_base)


def save_figure(figure, path_base):
    """The figure as PNG and SVG, each written atomically; returns their paths."""
    os.makedirs(os.path.dirname(os.path.abspath(path_base)), exist_ok=True)
    paths = [path_base + ".png", path_base + ".svg"]
    for path in paths:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=path[-3:], dpi=120)
    return paths
