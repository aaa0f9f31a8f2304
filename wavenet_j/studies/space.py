"""The declared space of Wave-U-Net variants around U1, and a seeded sampler over it.

A variant is a choice for each axis of ``SPACE``; ``variant_overrides`` turns it into model_config
overrides applied after the base configs (``tiny`` or full size), so one space serves every size:
``filters_scale`` multiplies the base's ``num_initial_filters``, and per-level options are clipped
to the variant's depth. Variant 0 is U1 itself, the reference every study compares against.
"""

import numpy as np

# Each axis's choices; the first is U1's.
SPACE = {
    "num_layers": (10, 8, 6),
    "filters_scale": (1.0, 0.75, 1.5),  # times the base's num_initial_filters
    "filter_size": (15, 9, 21),
    "merge_filter_size": (5, 3, 7),
    "upsampling": ("linear", "learned"),
    "res_path": ((0, 0), (2, 5), (3, 5), (2, 10), (3, 10)),  # (units, levels), the paper's U2 family
    "multires_levels": (0, 5, 10),  # the paper's U3 family
    "context": (False, True),
    "output_type": ("difference", "direct"),
}


def space_size():
    return int(np.prod([len(choices) for choices in SPACE.values()]))


def sample_variants(count, seed=0):
    """``count`` distinct variants (``{axis: choice}``), U1 first, then uniform draws without repeats.

    The draws are sequential from one seeded generator, so the first ``k`` of a larger sample are
    the sample of ``k``: a benchmark grown with a larger ``count`` keeps the variants it has.
    """
    if not 1 <= count <= space_size():
        raise ValueError(f"count = {count} must be between 1 and the space's {space_size()} variants")
    rng = np.random.default_rng(seed)
    variants = [{axis: choices[0] for axis, choices in SPACE.items()}]
    seen = {_key(variants[0])}
    while len(variants) < count:
        variant = {axis: choices[rng.integers(len(choices))] for axis, choices in SPACE.items()}
        if _key(variant) not in seen:
            seen.add(_key(variant))
            variants.append(variant)
    return variants


def _key(variant):
    return tuple(str(variant[axis]) for axis in SPACE)


def variant_overrides(variant, base_config):
    """model_config overrides of ``variant`` on top of ``base_config`` (the completed base configs)."""
    layers = variant["num_layers"]
    units, levels = variant["res_path"]
    return {
        "num_layers": layers,
        "num_initial_filters": max(1, round(base_config["num_initial_filters"] * variant["filters_scale"])),
        "filter_size": variant["filter_size"],
        "input_filter_size": variant["filter_size"],
        "merge_filter_size": variant["merge_filter_size"],
        "upsampling": variant["upsampling"],
        "res_path_units": units,
        "res_path_levels": min(levels, layers),
        "multires_levels": min(variant["multires_levels"], layers),
        "context": variant["context"],
        "output_type": variant["output_type"],
    }


def describe(variant):
    """A short label of how ``variant`` differs from U1, e.g. ``L12 f1.5 k21 learned``."""
    first = {axis: choices[0] for axis, choices in SPACE.items()}
    labels = {
        "num_layers": lambda v: f"L{v}",
        "filters_scale": lambda v: f"f{v:g}",
        "filter_size": lambda v: f"k{v}",
        "merge_filter_size": lambda v: f"m{v}",
        "upsampling": lambda v: v,
        "res_path": lambda v: f"res{v[0]}x{v[1]}",
        "multires_levels": lambda v: f"multires{v}",
        "context": lambda v: "context",
        "output_type": lambda v: v,
    }
    parts = [labels[axis](variant[axis]) for axis in SPACE if variant[axis] != first[axis]]
    return " ".join(parts) or "U1"
