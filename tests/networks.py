"""The small networks the tests build: every level present, built and run in milliseconds."""

from wavenet_j.configs import complete_config

SMALL_NET = {
    "num_layers": 3,
    "num_initial_filters": 4,
    "filter_size": 5,
    "input_filter_size": 5,
    "merge_filter_size": 3,
}
SMALL = dict(SMALL_NET, num_frames=64)


def small_net(**changes):
    """The ``ModelConfig`` of the small network with ``changes``."""
    return complete_config({**SMALL_NET, **changes})
