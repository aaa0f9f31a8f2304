"""The paper's statistics over all 1-second segments of all tracks, and its table layout."""

import csv
import io

import numpy as np

STATISTICS = ("Med.", "MAD", "Mean", "SD")
# Each source's row label, in the paper's order; the MUSDB stems the paper does not score come last.
SOURCE_LABELS = {
    "vocals": "Voc.",
    "accompaniment": "Acc.",
    "bass": "Bass",
    "drums": "Drums",
    "other": "Other",
}
PAPER_SOURCES = ("vocals", "accompaniment")  # the sources of the paper's tables and figures


def paper_statistics(values):
    """Median, median absolute deviation, mean and standard deviation, NaN segments dropped."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return dict.fromkeys(STATISTICS, float("nan"))
    median = float(np.median(values))
    return {
        "Med.": median,
        "MAD": float(np.median(np.abs(values - median))),
        "Mean": float(np.mean(values)),
        "SD": float(np.std(values)),
    }


def pooled(track_scores, source, metric="SDR"):
    """The finite values of every segment of every track of ``{track: {source: {metric: [...]}}}``:
    the distribution the statistics and the violin plots describe."""
    values = np.concatenate(
        [
            np.asarray(scores[source][metric], dtype=np.float64)
            for scores in track_scores.values()
            if source in scores
        ]
        or [np.empty(0)]
    )
    return values[np.isfinite(values)]


def summarize(track_scores, metric="SDR"):
    """``{source: statistics}`` pooling every segment of every track of
    ``{track: {source: {metric: [...]}}}``."""
    sources = sorted({source for scores in track_scores.values() for source in scores})
    return {source: paper_statistics(pooled(track_scores, source, metric)) for source in sources}


def markdown_table(columns, sources=None, digits=2):
    """The paper's layout: a row per source and statistic, a column per model
    (``{model: summarize(...)}``)."""
    names = list(columns)
    sources = sources or sorted({s for column in columns.values() for s in column}, key=source_order)
    lines = ["| | | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for label, source, statistic in table_rows(sources):
        cells = [format_cell(columns[name].get(source, {}).get(statistic), digits) for name in names]
        lines.append(f"| {label} | {statistic} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def table_rows(sources):
    """``(label, source, statistic)`` for each row of the paper's layout: a source's label heads only
    its first row, so every table reads as the paper's."""
    for source in sources:
        for i, statistic in enumerate(STATISTICS):
            yield (SOURCE_LABELS.get(source, source) if i == 0 else ""), source, statistic


def csv_table(columns):
    """One row per (model, source, statistic)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["model", "source", "statistic", "SDR"])
    for name, column in columns.items():
        for source in sorted(column, key=source_order):
            for statistic in STATISTICS:
                writer.writerow([name, source, statistic, f"{column[source][statistic]:.4f}"])
    return out.getvalue()


def source_order(source):
    """A sort key: the paper's order of sources, then any other name alphabetically."""
    order = tuple(SOURCE_LABELS)
    return (order.index(source) if source in order else len(order), source)


def format_cell(value, digits=2):
    """A statistic as the tables print it; ``–`` marks a gap (no score, or no finite segment)."""
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"
