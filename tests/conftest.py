import os
import subprocess

import pytest

from networks import SMALL
from wavenet_j.configs import complete_config

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any test imports TensorFlow


@pytest.fixture
def small():
    return complete_config(SMALL)


@pytest.fixture(autouse=True, scope="session")
def xla_cache_in_a_temporary_folder(tmp_path_factory):
    """Commands that keep XLA compilations (``wavenet-j separate``) keep them here, not in ~/.cache."""
    os.environ["WAVENET_J_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def small_disk(tmp_path):
    """``mount(kilobytes)``: a folder on a tmpfs of that size, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = []

    def mount(kilobytes):
        folder = tmp_path / "disk"
        folder.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(folder)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            pytest.skip(f"mount -t tmpfs is not permitted here: {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    try:
        yield mount
    finally:
        for folder in mounted:
            subprocess.run(["umount", "-l", str(folder)], check=True)
