import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from networks import SMALL  # noqa: E402


@pytest.fixture
def small():
    return dict(SMALL)


@pytest.fixture(autouse=True, scope="session")
def xla_cache_in_a_temporary_folder(tmp_path_factory):
    """Commands that keep XLA compilations (``wavenet-j separate``) keep them here, not in ~/.cache."""
    os.environ["WAVENET_J_CACHE"] = str(tmp_path_factory.mktemp("cache"))
