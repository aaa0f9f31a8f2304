"""The paper's statistics, and a resumable evaluation on the toy corpus."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from wavenet_j.evaluation.statistics import markdown_table, paper_statistics, summarize


def test_paper_statistics_by_hand():
    stats = paper_statistics([1.0, 2.0, 4.0, np.nan, 10.0])  # NaN dropped: 1, 2, 4, 10
    assert stats["Med."] == 3.0
    assert stats["MAD"] == 1.5  # |1-3|, |2-3|, |4-3|, |10-3| = 2, 1, 1, 7 -> median 1.5
    assert stats["Mean"] == 4.25
    assert stats["SD"] == pytest.approx(
        np.sqrt(((1 - 4.25) ** 2 + (2 - 4.25) ** 2 + (4 - 4.25) ** 2 + (10 - 4.25) ** 2) / 4)
    )


def test_segments_of_all_tracks_are_pooled_and_the_table_has_the_papers_layout():
    scores = {
        "a": {"vocals": {"SDR": [1.0, np.nan]}, "accompaniment": {"SDR": [5.0, 7.0]}},
        "b": {"vocals": {"SDR": [3.0, 5.0]}, "accompaniment": {"SDR": [9.0, 11.0]}},
    }
    summary = summarize(scores)
    assert summary["vocals"]["Med."] == 3.0 and summary["vocals"]["Mean"] == 3.0
    assert summary["accompaniment"]["Med."] == 8.0
    table = markdown_table({"U1": summary, "J1": summary}).splitlines()
    assert table[0] == "| | | U1 | J1 |"
    assert table[2] == "| Voc. | Med. | 3.00 | 3.00 |"
    assert table[3] == "|  | MAD | 2.00 | 2.00 |"
    assert table[6] == "| Acc. | Med. | 8.00 | 8.00 |"


EVALUATE = """
import sys, time
from wavenet_j.evaluation import musdb
real = musdb._write_scores
def slow(path, name, scores):
    real(path, name, scores)
    print("wrote", name, flush=True)
    time.sleep(60)
musdb._write_scores = slow
musdb.evaluate_model(sys.argv[1], sys.argv[2], sys.argv[3])
"""


@pytest.mark.slow
def test_evaluation_resumes_after_a_kill_and_matches_museval_json(tmp_path):
    from wavenet_j.configs import resolve_config
    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.evaluation.musdb import evaluate_model, load_scores
    from wavenet_j.models import build_separator

    root = make_toy_corpus(tmp_path / "toy", train=1, test=3, seconds=3.0)
    model_path = str(tmp_path / "u1.keras")
    build_separator(resolve_config(["U1", "tiny"], {"num_frames": 1024})).save(model_path)
    out = str(tmp_path / "results" / "u1")
    process = subprocess.Popen(
        [sys.executable, "-c", EVALUATE, model_path, out, root], stdout=subprocess.PIPE, text=True
    )
    first = process.stdout.readline().split(" ", 1)[1].strip()
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = os.path.join(out, "test", f"{first}.json")
    assert os.listdir(os.path.join(out, "test")) == [f"{first}.json"]
    stamp = os.path.getmtime(done)
    time.sleep(0.05)
    column = evaluate_model(model_path, out, root, workers=2)
    assert os.path.getmtime(done) == stamp  # not redone
    scores = load_scores(out)
    assert len(scores) == 3 and all(set(s) == {"accompaniment", "vocals"} for s in scores.values())
    assert all(len(s["vocals"]["SDR"]) == 3 for s in scores.values())  # 3 one-second windows per track
    assert set(column["u1"]) == {"accompaniment", "vocals"}
    with open(os.path.join(out, "statistics.md")) as handle:
        assert handle.readline().startswith("| | | u1 |")
    import museval

    with open(done, encoding="utf-8") as handle:
        frame = museval.aggregate.json2df(json.load(handle), first)  # museval reads our JSON as we wrote it
    vocals = frame[(frame.target == "vocals") & (frame.metric == "SDR")].sort_values("time")["score"]
    np.testing.assert_array_equal(vocals.to_numpy(dtype=float), scores[first]["vocals"]["SDR"])


@pytest.mark.slow
def test_estimates_are_kept_and_a_resumed_run_does_not_rewrite_finished_tracks(tmp_path):
    import soundfile

    from wavenet_j.configs import resolve_config
    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.evaluation.musdb import evaluate_model, load_scores
    from wavenet_j.models import build_separator

    root = make_toy_corpus(tmp_path / "toy", train=1, test=2, seconds=3.0)
    model_path = str(tmp_path / "u1.keras")
    build_separator(resolve_config(["U1", "tiny"], {"num_frames": 1024})).save(model_path)
    out, estimates = tmp_path / "results", tmp_path / "estimates"
    evaluate_model(model_path, str(out), root, estimates_dir=str(estimates))
    first, second = sorted(path.name for path in (estimates / "test").iterdir())
    stems = {path: os.path.getmtime(path) for path in (estimates / "test").glob("*/*.wav")}
    assert {path.name for path in stems} == {"accompaniment.wav", "vocals.wav"} and len(stems) == 4
    scores = load_scores(str(out))
    (out / "test" / f"{first}.json").unlink()  # killed after its stems were written, before its scores
    (estimates / "test" / second / "vocals.wav").unlink()  # killed while writing its stems
    time.sleep(0.05)
    evaluate_model(model_path, str(out), root, estimates_dir=str(estimates))
    assert all(os.path.getmtime(path) == stamp for path, stamp in stems.items() if path.parent.name == first)
    assert soundfile.info(estimates / "test" / second / "vocals.wav").frames == 3 * 44100
    assert load_scores(str(out)) == scores
    assert sorted(p.name for p in (estimates / "test").rglob("*")) == sorted(
        [first, second] + ["accompaniment.wav", "vocals.wav"] * 2
    )  # nothing half-written left behind


def test_a_results_folder_is_resumed_only_by_the_model_and_options_that_made_it(tmp_path):
    import keras

    from wavenet_j.configs import resolve_config
    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.evaluation.musdb import EvaluationError, evaluate_model
    from wavenet_j.models import build_separator
    from wavenet_j.separation import SeparationOptions

    root = make_toy_corpus(tmp_path / "toy", train=1, test=1, seconds=3.0)
    config = resolve_config(["U1", "tiny"], {"num_frames": 1024})
    first, again, other = (str(tmp_path / name) for name in ("first.keras", "again.keras", "other.keras"))
    build_separator(config).save(first)
    keras.saving.load_model(first).save(again)  # the same weights, saved anew
    build_separator(config.replace(seed=1)).save(other)
    out = str(tmp_path / "results")
    evaluate_model(first, out, root)
    (scores,) = glob.glob(os.path.join(out, "test", "*.json"))
    stamp = os.path.getmtime(scores)
    # the defaults, spelled out, and options that only change the work (not the estimates)
    evaluate_model(again, out, root, options=SeparationOptions(windows="original", batch_windows=2))
    assert os.path.getmtime(scores) == stamp  # resumed: nothing scored again
    with pytest.raises(
        EvaluationError, match=r"scores of model '.*first\.keras' with .*not of '.*other\.keras'"
    ):
        evaluate_model(other, out, root)
    with pytest.raises(EvaluationError, match=r"not of '.*first\.keras' with \{'stages': 2"):
        evaluate_model(first, out, root, options=SeparationOptions(stages=2))
    os.remove(os.path.join(out, "fingerprint.json"))  # scores whose model is unknown
    with pytest.raises(EvaluationError, match="no fingerprint.json"):
        evaluate_model(first, out, root)
    assert os.path.getmtime(scores) == stamp


def test_an_estimates_folder_is_kept_only_by_the_model_that_made_it(tmp_path):
    from wavenet_j.configs import resolve_config
    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.evaluation.musdb import EvaluationError, evaluate_model
    from wavenet_j.models import build_separator

    root = make_toy_corpus(tmp_path / "toy", train=1, test=1, seconds=2.0)
    config = resolve_config(["U1", "tiny"], {"num_frames": 1024})
    first, other = str(tmp_path / "first.keras"), str(tmp_path / "other.keras")
    build_separator(config).save(first)
    build_separator(config.replace(seed=1)).save(other)
    estimates = tmp_path / "estimates"
    evaluate_model(first, str(tmp_path / "a"), root, estimates_dir=str(estimates))
    stems = {path: path.read_bytes() for path in estimates.rglob("*.wav")}
    with pytest.raises(EvaluationError, match=r"estimates' holds the estimates of model '.*first\.keras'"):
        evaluate_model(other, str(tmp_path / "b"), root, estimates_dir=str(estimates))
    assert {path: path.read_bytes() for path in estimates.rglob("*.wav")} == stems
    assert not (tmp_path / "b" / "test").exists()  # refused before any track was scored
