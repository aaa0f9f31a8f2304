"""The ``wavenet-j`` command, run as a user runs it."""
import os
import re
import subprocess
import sys

from wavenet_j.configs import resolve_config
from wavenet_j.models.summary import describe

CLI = [os.path.join(os.path.dirname(sys.executable), "wavenet-j")]


def run(*args):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=300)


def test_models_prints_a_row_per_model_with_the_described_numbers():
    result = run("models", "U1+tiny", "J1+tiny", "M4")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["model", "params", "trainable", "frozen", "input", "output", "receptive", "field"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert set(rows) == {"U1+tiny", "J1+tiny", "M4"}
    j1 = describe(resolve_config(["J1", "tiny"]))
    expected = [f"{j1[k]:,}" for k in ("params", "trainable", "frozen")] + [
        str(j1[k]) for k in ("input_frames", "output_frames", "receptive_field")]
    assert rows["J1+tiny"] == expected
    assert rows["U1+tiny"][2] == "0" and rows["U1+tiny"][0] == rows["J1+tiny"][0]
    assert rows["M4"][3:5] == ["147443", "16389"]


def test_models_with_an_unknown_name_fails_and_lists_the_known_ones():
    result = run("models", "J7")
    assert result.returncode != 0
    assert re.search(r"unknown named config 'J7'; known: .*J1.*U1", result.stderr)
