"""The J-Net paper's published numbers (its Tables 1-3: SDR in dB), kept beside every reproduction."""

from wavenet_j.evaluation.statistics import PAPER_SOURCES, STATISTICS


def _table(columns):
    """``{model: [8 values in the paper's row order]}`` -> ``{model: {source: {statistic: value}}}``."""
    count = len(STATISTICS)
    return {
        model: {
            source: dict(zip(STATISTICS, values[count * i : count * (i + 1)]))
            for i, source in enumerate(PAPER_SOURCES)
        }
        for model, values in columns.items()
    }


# Table 1: models that beat the baseline U1 on mean vocal SDR, with the original's M4.
TABLE_1 = _table(
    {
        "M4": [4.46, 3.21, 0.65, 13.67, 10.69, 3.15, 11.85, 7.03],
        "U1": [4.48, 3.25, 0.20, 14.36, 10.43, 2.99, 11.68, 6.65],
        "U3_10": [4.84, 3.33, 1.09, 13.57, 10.91, 3.14, 12.26, 6.84],
        "U2_2_10": [4.49, 3.28, 0.38, 14.15, 10.61, 3.02, 11.80, 6.59],
        "U4_1": [4.34, 3.26, 0.26, 14.06, 10.33, 2.99, 11.67, 6.68],
        "U5": [4.11, 3.19, 0.21, 13.82, 10.05, 3.01, 11.47, 6.92],
    }
)
# Table 2: random decoders against U1.
TABLE_2 = _table(
    {
        "U1": [4.48, 3.25, 0.20, 14.36, 10.43, 2.99, 11.68, 6.65],
        "L": [3.83, 2.91, -1.39, 15.47, 9.71, 2.78, 10.65, 6.03],
        "L_first3": [3.64, 2.84, -1.49, 15.39, 9.66, 2.86, 10.57, 6.07],
        "L_last3": [3.93, 2.91, -1.07, 15.19, 9.91, 2.88, 10.90, 6.12],
    }
)
# Table 3: progressive learning with 1-3 inference stages (U4_k), and the baseline run with k stages (U1_k).
TABLE_3 = _table(
    {
        "U4_1": [4.34, 3.26, 0.26, 14.06, 10.33, 2.99, 11.67, 6.68],
        "U4_2": [4.32, 3.24, 1.17, 12.49, 10.30, 2.97, 11.46, 6.38],
        "U4_3": [4.25, 3.16, 1.26, 12.06, 10.27, 2.95, 11.26, 6.13],
        "U1_1": [4.41, 3.25, 0.21, 14.21, 10.44, 3.03, 11.69, 6.86],
        "U1_2": [4.19, 3.17, 1.15, 12.05, 10.38, 2.98, 11.44, 6.55],
        "U1_3": [3.90, 3.03, 1.00, 11.55, 10.34, 2.96, 11.20, 6.31],
    }
)
TABLES = {"Table 1": TABLE_1, "Table 2": TABLE_2, "Table 3": TABLE_3}
# Columns that are the original's numbers, never trained here (M4: context, 12 layers).
ORIGINAL_ONLY = ("M4",)


def j_twin(name):
    """The J model of U model ``name`` (``U2_2_5`` -> ``J2_2_5``): the same architecture with a random
    frozen encoder, as the paper names its pairs."""
    return "J" + name[1:]


# Every (U, J) pair the paper trains; Fig. 2 and 3 plot their mean SDRs.
PAIRS = (
    ("U1", "J1"),
    ("U2_2_5", "J2_2_5"),
    ("U2_3_5", "J2_3_5"),
    ("U2_2_10", "J2_2_10"),
    ("U2_3_10", "J2_3_10"),
    ("U3_5", "J3_5"),
    ("U3_10", "J3_10"),
    ("U4", "J4"),
    ("U5", "J5"),
)


def model_and_stages(column):
    """``(model, inference stages)`` a table column reports: Table 3's ``U4_2`` is U4 run with 2
    inference stages; every other column names a model."""
    model, _, stages = column.rpartition("_")
    return (model, int(stages)) if model in ("U1", "U4") and stages.isdigit() else (column, 1)
