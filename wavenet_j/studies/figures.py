"""The paper's Fig. 2 and 3: U against J mean SDR, one labelled point per pair, quadrants at (U1, J1)."""

import os

import numpy as np
from matplotlib.figure import Figure

from wavenet_j.evaluation.plots import save_figure
from wavenet_j.evaluation.statistics import PAPER_SOURCES
from wavenet_j.studies.scoring import target_label

# Each source's figure, named as the paper numbers it.
FIGURES = {"vocals": "fig2_vocals", "accompaniment": "fig3_accompaniment"}


def pair_scatter(points, origin, title, path_base):
    """Write ``path_base.png`` and ``.svg``; ``points`` is ``{pair label: (U score, J score)}``."""
    figure = Figure(figsize=(5.5, 5))
    axes = figure.subplots()
    for label, (u, j) in points.items():
        axes.scatter(u, j, color="tab:red" if label == origin else "tab:blue", zorder=3)
        axes.annotate(label, (u, j), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if origin in points:
        axes.axvline(points[origin][0], color="grey", linewidth=0.8)
        axes.axhline(points[origin][1], color="grey", linewidth=0.8)
    axes.set_xlabel("U-Net (trained encoder): mean SDR [dB]")
    axes.set_ylabel("J-Net (random encoder): mean SDR [dB]")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return save_figure(figure, path_base)


def rho_against_cost(scores, out_dir):
    """``out_dir/proxy_rho_vs_cost``: each proxy's Spearman rho with its 95% interval against U's mean
    SDR (one panel per source) over its median cost in seconds, log scale; ``scores`` as
    ``scoring.score_table`` gives them."""
    targets = [f"{source}_mean_sdr" for source in PAPER_SOURCES]
    figure = Figure(figsize=(5.5 * len(targets), 4.8))
    panels = figure.subplots(1, len(targets), squeeze=False)
    for axes, target in zip(panels[0], targets):
        placed = []  # labelled points so far: a label near one moves down a line
        for proxy, result in scores.items():
            entry = result["targets"].get(target, {})
            if "spearman" not in entry:
                continue
            rho, (low, high) = entry["spearman"], entry["spearman_ci95"]
            cost = max(result["median_seconds"], 1e-3)
            training = proxy in ("J", "L") or proxy.startswith("U@")
            axes.errorbar(
                cost,
                rho,
                yerr=[[rho - low], [high - rho]],
                fmt="s" if training else "o",
                color="tab:red" if training else "tab:blue",
                capsize=3,
                zorder=3,
            )
            near = sum(abs(np.log10(cost / c)) < 0.1 and abs(rho - r) < 0.05 for c, r in placed)
            placed.append((cost, rho))
            axes.annotate(
                proxy, (cost, rho), textcoords="offset points", xytext=(5, 3 - 9 * near), fontsize=8
            )
        axes.axhline(0, color="grey", linewidth=0.8)
        axes.set_xscale("log")
        axes.set_xlabel("cost per model [s] (log scale)")
        axes.set_ylabel(f"Spearman rho with U's {target_label(target)}")
        axes.grid(alpha=0.3)
    figure.suptitle("Proxies: rank correlation with the trained U models against cost (red: trained)")
    figure.tight_layout()
    return save_figure(figure, os.path.join(out_dir, "proxy_rho_vs_cost"))
