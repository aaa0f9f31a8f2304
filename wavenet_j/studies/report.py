"""What a study writes for readers: Tables 1-3 with the paper's numbers beside ours, and ``report.md``."""

import os

from wavenet_j.atomic import write_text
from wavenet_j.evaluation.statistics import PAPER_SOURCES, format_cell, summarize, table_rows
from wavenet_j.studies.paper import ORIGINAL_ONLY, TABLES, j_twin, model_and_stages
from wavenet_j.studies.scoring import ordered, target_label


def _with_interval(entry, measure):
    """``0.52 [-0.28, 0.95]``: a correlation and its 95% interval."""
    low, high = entry[f"{measure}_ci95"]
    return f"{entry[measure]:.2f} [{low:.2f}, {high:.2f}]"


def _cell(ours, paper):
    mine = format_cell(ours)
    return mine if paper is None else f"{mine} ({format_cell(paper)})"


def _rows(columns, paper):
    """``(label, statistic, cells)`` per row; a model of ``paper`` without our statistics is a gap."""
    for label, source, statistic in table_rows(PAPER_SOURCES):
        yield (
            label,
            statistic,
            [
                _cell(
                    (columns.get(name) or {}).get(source, {}).get(statistic), paper[name][source][statistic]
                )
                for name in paper
            ],
        )


def table_markdown(title, columns, paper):
    """Our statistics with the paper's beside them in parentheses; ``–`` marks a gap."""
    names = list(paper)
    lines = [
        f"**{title}** (ours, paper in parentheses; SDR in dB)",
        "",
        "| | | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for label, statistic, cells in _rows(columns, paper):
        lines.append(f"| {label} | {statistic} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table_latex(title, columns, paper):
    names = list(paper)
    rows = [
        r"\begin{tabular}{ll" + "r" * len(names) + "}",
        r"\toprule",
        " & & " + " & ".join(n.replace("_", r"\_") for n in names) + r" \\",
        r"\midrule",
    ]
    for label, statistic, cells in _rows(columns, paper):
        rows.append(f"{label} & {statistic} & " + " & ".join(cells) + r" \\")
    rows += [r"\bottomrule", r"\end{tabular}"]
    return f"% {title}: ours (paper)\n" + "\n".join(rows) + "\n"


def write_tables(study, out_dir):
    """Tables 1-3 from the study's runs as markdown and LaTeX; returns the files written.

    The original-only columns (``ORIGINAL_ONLY``) keep the paper's number and no score of ours.
    """
    written = []
    for title, paper in TABLES.items():
        columns = {}
        for name in paper:
            if name in ORIGINAL_ONLY:
                continue
            scores = study.scores(*model_and_stages(name))
            columns[name] = summarize(scores) if scores else None
        stem = os.path.join(out_dir, title.lower().replace(" ", ""))
        write_text(stem + ".md", table_markdown(title, columns, paper))
        write_text(stem + ".tex", table_latex(title, columns, paper))
        written += [stem + ".md", stem + ".tex"]
    return written


def report_markdown(report):
    """``report.md``: the correlations in words, the training times, the gaps, then the tables."""
    lines = [
        "# J-Net study",
        "",
        f"Pairs (U/J): {', '.join(u + '/' + j for u, j in report['pairs'])}; origin {report['origin']}.",
        "",
    ]
    for source, result in report["correlation"].items():
        if "gap" in result:
            lines.append(f"- {source}: no correlation ({result['gap']})")
            continue
        c = result["mean_sdr"]
        lines.append(
            f"- {source}, mean SDR over {c['pairs']} pairs: Pearson {_with_interval(c, 'pearson')}, "
            f"Spearman {_with_interval(c, 'spearman')}; "
            f"{100 * result['first_or_third_quadrant_share']:.0f}% of pairs "
            f"in the first or third quadrant"
        )
    if report.get("proxies"):
        lines += [
            "",
            "Proxies of the pairs' U models against the U models' mean SDR; J is the J twins' mean SDR of "
            "the same source, its cost their training time.",
            "",
        ]
        order = ordered(report["proxies"])
        for source in PAPER_SOURCES:
            lines += [proxy_table_markdown(report["proxies"], f"{source}_mean_sdr", order)]
    times = ", ".join(f"{name} {seconds:.0f}" for name, seconds in sorted(report["train_seconds"].items()))
    lines += ["", f"Training time per model (s): {times}", ""]
    if report["gaps"]:
        lines += ["Gaps: " + "; ".join(f"{k}: {v}" for k, v in report["gaps"].items()), ""]
    for path in report.get("tables", []):
        if path.endswith(".md"):
            with open(path, encoding="utf-8") as handle:
                lines += [handle.read()]
    return "\n".join(lines) + "\n"


def _duration(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _span(low, high, text=str):
    """``low``, ``low–high`` or ``>= low`` (no upper bound) of a plan's steps or times."""
    return text(low) if low == high else f"{text(low)}–{text(high)}" if high else f">= {text(low)}"


def plan_markdown(rows):
    """``Study.plan``'s rows as a table, the J/U cost per step of every pair that both train, and the
    total training time."""
    lines = ["| model | to do | s/step (batch) | steps | training time |", "|---|---|---|---|---|"]
    for row in rows:
        if "step_seconds" not in row:
            lines.append(f"| {row['model']} | {row['action']} | | | |")
            continue
        (low, high), (fast, slow) = row["steps"], row["seconds"]
        lines.append(
            f"| {row['model']} | {row['action']} | {row['step_seconds']:.3f} ({row['batch_size']}) "
            f"| {_span(low, high)} | {_span(fast, slow if high else None, _duration)} |"
        )
    timed = {row["model"]: row["step_seconds"] for row in rows if "step_seconds" in row}
    ratios = [
        f"{j_twin(name)}/{name} {timed[j_twin(name)] / seconds:.2f}"
        for name, seconds in timed.items()
        if name.startswith("U") and j_twin(name) in timed
    ]
    if ratios:
        lines.append(f"\nJ/U time per step: {', '.join(ratios)}")
    total = sum(row["seconds"][0] for row in rows if "seconds" in row)
    lines.append(f"training on this machine: at least {_duration(total)} in all (evaluation not included)")
    return "\n".join(lines)


def proxy_table_markdown(scores, target, order):
    """One target's rows: each proxy's cost, Spearman and Kendall with their intervals, top-3 hits."""
    lines = [
        f"**{target_label(target)}** of the trained U models",
        "",
        "| proxy | U models | seconds | share of a U training | Spearman rho [95%] | Kendall tau [95%] "
        "| top-3 of 8 holds the best |",
        "|---|---|---|---|---|---|---|",
    ]
    for proxy in order:
        result = scores[proxy]
        entry = result["targets"][target]
        cost = f"| {result['median_seconds']:.3g} | {100 * result['share_of_u_training']:.2g}% |"
        if "gap" in entry:
            lines.append(f"| {proxy} | {result['variants']} {cost} {entry['gap']} | | |")
            continue
        cells = [_with_interval(entry, m) for m in ("spearman", "kendall")]
        lines.append(
            f"| {proxy} | {result['variants']} {cost} {cells[0]} | {cells[1]} "
            f"| {100 * entry['top3_hit_rate']:.0f}% |"
        )
    return "\n".join(lines) + "\n"
