"""``benchmarks/gpu_check.py --smoke`` under JAX on this CPU: every part measures something, as it
must on the GPU machine, with TensorFlow unimportable there and here."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARTS = {"a": "train_step", "b": "train_run", "c": "pipeline", "d": "separation", "e": "study_plan"}


def number(text):
    try:
        return float(text) >= 0
    except ValueError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not importlib.util.find_spec("jax"), reason="no JAX")
def test_every_part_of_the_smoke_check_measures(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benchmarks", "gpu_check.py"), "--smoke", "--backend", "jax"]
        + ["--out", str(tmp_path), "--budget", "1200"],
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| ")]
    measured = {cells[0].strip() for cells in rows[1:] if number(cells[2])}
    assert measured == set(PARTS), done.stdout
    failed = [cells for cells in rows if "failed" in cells[4] or "skipped" in cells[4]]
    assert not failed, done.stdout
    report = json.loads((tmp_path / "gpu_check_jax.json").read_text())
    parts = report["parts"]
    assert set(parts) == set(PARTS.values()) and report["machine"]["backend"] == "jax"
    assert {"J1/U1 fp32", "L/U1 fp32", "J1/U1 bf16", "L/U1 bf16"} <= set(parts["train_step"]["ratios"])
    assert all(result["bare_ms"] > 0 for result in parts["train_step"]["ms"].values())
    assert parts["train_step"]["ms"]["U1 bf16"]["flops"] > 0
    assert parts["train_run"]["steps"] == 4 and parts["train_run"]["best_model"]
    assert parts["train_run"]["tensorboard_event_files"] >= 1 and parts["train_run"]["steps_per_second"] > 0
    assert parts["pipeline"]["windows_per_second"] > 0 and set(parts["pipeline"]["vs_step_demand"]) == {
        "fp32",
        "bf16",
    }
    assert all(parts["separation"][name]["audio_seconds_per_second"] > 0 for name in ("U1", "M4"))
    assert parts["study_plan"]["total_hours"] > 0 and set(parts["study_plan"]["models"]) == {"U1", "J1"}
    assert {row["part"] for row in report["rows"]} == set(PARTS)
