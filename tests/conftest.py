import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

# A network small enough to build and run in milliseconds, with every level present.
SMALL = {"num_layers": 3, "num_initial_filters": 4, "num_frames": 64,
         "filter_size": 5, "input_filter_size": 5, "merge_filter_size": 3}


@pytest.fixture
def small():
    return dict(SMALL)
