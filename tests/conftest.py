import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from networks import SMALL  # noqa: E402


@pytest.fixture
def small():
    return dict(SMALL)
