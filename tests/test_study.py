"""The study's statistics, figures and tables on hand-made results, and a tiny resumable study."""

import json
import os

import numpy as np
import pytest

from wavenet_j.studies import StudyError, correlate, quadrant_share
from wavenet_j.studies.figures import pair_scatter
from wavenet_j.studies.paper import TABLE_2
from wavenet_j.studies.report import table_latex, table_markdown

pytestmark = pytest.mark.slow  # trains, runs studies or starts processes


def test_correlations_on_hand_made_scores():
    result = correlate([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.1, 5.9, 8.2, 9.9])
    assert result["pairs"] == 5 and result["spearman"] == pytest.approx(1.0) and result["pearson"] > 0.99
    assert result["pearson_ci95"][0] <= result["pearson"] <= result["pearson_ci95"][1]
    anti = correlate([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    assert anti["pearson"] == pytest.approx(-1.0) and anti["spearman"] == pytest.approx(-1.0)
    with pytest.raises(StudyError, match="at least three"):
        correlate([1.0, 2.0], [1.0, 2.0])


def test_quadrant_share_counts_agreeing_pairs():
    points = {"U1/J1": (0.0, 0.0), "a": (1.0, 1.0), "b": (-1.0, -2.0), "c": (1.0, -1.0)}
    assert quadrant_share(points, "U1/J1") == pytest.approx(2 / 3)
    with pytest.raises(StudyError):
        quadrant_share({"U1/J1": (0.0, 0.0)}, "U1/J1")


def test_figures_and_tables_from_fake_results(tmp_path):
    written = pair_scatter(
        {"U1/J1": (0.2, -1.0), "U3_10/J3_10": (1.1, -0.5), "U5/J5": (0.1, -1.2)},
        "U1/J1",
        "Mean SDR of vocals",
        str(tmp_path / "fig2"),
    )
    assert [os.path.basename(p) for p in written] == ["fig2.png", "fig2.svg"]
    with open(written[0], "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    with open(written[1]) as handle:
        assert "U3_10/J3_10" in handle.read()
    ours = {
        "U1": {
            "vocals": {"Med.": 4.0, "MAD": 3.0, "Mean": 0.5, "SD": 14.0},
            "accompaniment": {"Med.": 10.0, "MAD": 3.0, "Mean": 11.0, "SD": 7.0},
        },
        "L": None,
    }
    table = table_markdown("Table 2", ours, TABLE_2).splitlines()
    assert table[2] == "| | | U1 | L | L_first3 | L_last3 |"
    assert table[4] == "| Voc. | Med. | 4.00 (4.48) | – (3.83) | – (3.64) | – (3.93) |"
    assert "4.00 (4.48)" in table_latex("Table 2", ours, TABLE_2)


def _tiny_corpus_and_runs(tmp_path):
    """Overrides that train tiny models in seconds on a 4-song toy corpus, all below ``tmp_path``."""
    from wavenet_j.data.toy import make_toy_corpus

    return {
        "musdb_path": make_toy_corpus(tmp_path / "toy", train=3, test=1, seconds=3.0),
        "data_path": str(tmp_path / "data"),
        "model_base_dir": str(tmp_path / "runs"),
        "log_dir": str(tmp_path / "logs"),
        "num_initial_filters": 2,
        "num_frames": 1024,
        "batch_size": 2,
        "epoch_it": 2,
        "max_epochs": 1,
    }


def test_tiny_study_trains_evaluates_and_reuses_its_runs(tmp_path):
    from wavenet_j.studies import run_study

    overrides = _tiny_corpus_and_runs(tmp_path)
    pairs = (("U1", "J1"), ("U5", "J5"), ("U2_2_5", "J2_2_5"))
    out = str(tmp_path / "study")
    report = run_study(out, pairs=pairs, tables=False, overrides=overrides)
    assert not report["gaps"]
    assert set(report["correlation"]["vocals"]["points"]) == {"U1/J1", "U5/J5", "U2_2_5/J2_2_5"}
    assert report["correlation"]["vocals"]["mean_sdr"]["pairs"] == 3
    assert {os.path.basename(p) for p in report["figures"]} == {
        "fig2_vocals.png",
        "fig2_vocals.svg",
        "fig3_accompaniment.png",
        "fig3_accompaniment.svg",
        "proxy_rho_vs_cost.png",
        "proxy_rho_vs_cost.svg",
    }
    proxies = report["proxies"]
    assert {"J", "synflow", "naswot", "vote"} <= set(proxies) and all(
        p["variants"] == 3 for p in proxies.values()
    )
    for source in ("vocals", "accompaniment"):  # J as a proxy is the paper's U-against-J correlation
        j = proxies["J"]["targets"][f"{source}_mean_sdr"]
        assert j["spearman"] == report["correlation"][source]["mean_sdr"]["spearman"]
    assert (
        proxies["J"]["median_seconds"]
        == sorted(report["train_seconds"][j] for j in ("J1", "J5", "J2_2_5"))[1]
    )
    assert "| synflow | 3 |" in open(os.path.join(out, "report.md")).read()
    stamps = {p: os.path.getmtime(p) for p in _results_and_models(tmp_path)}
    assert len(stamps) == 12  # 6 best.keras, 6 track scores
    again = run_study(out, pairs=pairs, tables=False, overrides=overrides)
    assert {p: os.path.getmtime(p) for p in _results_and_models(tmp_path)} == stamps  # reused, not redone
    assert again["train_seconds"] == report["train_seconds"]
    assert again["proxies"] == report["proxies"]  # read back from the records, not measured again
    with open(os.path.join(out, "study.json")) as handle:
        manifest = json.load(handle)
    assert manifest["models"]["J1"]["run"].endswith("study-J1") and "1" in manifest["models"]["J1"]["results"]


def _results_and_models(tmp_path):
    for folder, _, files in os.walk(tmp_path):
        for file in files:
            if file == "best.keras" or (file.endswith(".json") and os.path.basename(folder) == "test"):
                yield os.path.join(folder, file)


def test_search_ranks_by_j_twins_and_trains_only_the_top_u(tmp_path):
    from wavenet_j.studies import search

    overrides = _tiny_corpus_and_runs(tmp_path)
    result = search(["U1", "U5", "U2_2_5"], str(tmp_path / "search"), top_k=1, overrides=overrides)
    ranked = [entry["model"] for entry in result["ranking_by_j_validation_loss"]]
    losses = [entry["j_validation_loss"] for entry in result["ranking_by_j_validation_loss"]]
    assert sorted(ranked) == ["U1", "U2_2_5", "U5"] and losses == sorted(losses)
    assert result["chosen"] == ranked[0] and list(result["finalists_u_validation_loss"]) == [ranked[0]]
    trained = sorted(os.listdir(tmp_path / "runs"))
    assert trained == sorted(["search-J1", "search-J5", "search-J2_2_5", f"search-{ranked[0]}"])
    assert result["estimated_seconds_saved"] > 0
    with pytest.raises(StudyError, match="must be U models"):
        search(["J1"], str(tmp_path / "search"))


def test_two_shards_and_a_merge_give_the_report_of_one_run(tmp_path):
    from wavenet_j.data.toy import make_toy_corpus
    from wavenet_j.studies import run_study

    root = make_toy_corpus(tmp_path / "toy", train=3, test=1, seconds=3.0)

    def on(machine):  # every machine trains into its own model_base_dir; results go to the shared folder
        return {
            "musdb_path": root,
            "data_path": str(tmp_path / machine / "data"),
            "model_base_dir": str(tmp_path / machine / "runs"),
            "log_dir": str(tmp_path / machine / "logs"),
            "num_initial_filters": 2,
            "num_frames": 1024,
            "batch_size": 2,
            "epoch_it": 2,
            "max_epochs": 1,
        }

    pairs = (("U1", "J1"), ("U5", "J5"))
    alone = run_study(str(tmp_path / "alone"), pairs=pairs, tables=False, overrides=on("one"))
    shared = str(tmp_path / "shared")
    first = run_study(shared, pairs=pairs, tables=False, overrides=on("machine0"), shard=(0, 2))
    assert first["models"] == ["U1", "U5"] and not first["gaps"]
    assert not os.path.exists(os.path.join(shared, "report.json"))  # a shard draws nothing
    early = run_study(shared, pairs=pairs, tables=False, overrides=on("merger"), merge=True)
    assert set(early["gaps"]) == {"J1", "J5"}  # the other shard has not run yet
    second = run_study(shared, pairs=pairs, tables=False, overrides=on("machine1"), shard=(1, 2))
    assert second["models"] == ["J1", "J5"] and not second["gaps"]
    merged = run_study(shared, pairs=pairs, tables=False, overrides=on("merger"), merge=True)
    assert not merged["gaps"] and not os.path.exists(
        tmp_path / "merger" / "runs"
    )  # the merge trained nothing
    for source in ("vocals", "accompaniment"):
        ours, theirs = merged["correlation"][source]["points"], alone["correlation"][source]["points"]
        assert set(ours) == set(theirs) == {"U1/J1", "U5/J5"}
        np.testing.assert_allclose(
            [ours[k] for k in sorted(ours)], [theirs[k] for k in sorted(theirs)], atol=1e-3
        )
    assert set(merged["train_seconds"]) == {"U1", "J1", "U5", "J5"} and all(merged["train_seconds"].values())
    with open(os.path.join(shared, "study.json")) as handle:
        manifest = json.load(handle)
    assert manifest["models"]["J1"]["run"].startswith(str(tmp_path / "machine1"))


@pytest.mark.parametrize("musdb_path", [None, "nowhere"])
def test_a_study_that_fails_at_start_leaves_no_folders(musdb_path, tmp_path, monkeypatch):
    from wavenet_j.studies import run_study

    monkeypatch.chdir(tmp_path)
    overrides = {"musdb_path": musdb_path and str(tmp_path / musdb_path), "data_path": str(tmp_path / "data")}
    with pytest.raises(StudyError, match="U1: .*musdb_path|U1: MUSDB root .*nowhere"):
        run_study(str(tmp_path / "study"), base=[], pairs=(("U1", "J1"),), tables=False, overrides=overrides)
    assert not list(tmp_path.iterdir())  # no output folder, no checkpoints/ or logs/


def test_a_study_reusing_runs_reports_the_training_time_they_recorded(tmp_path):
    from wavenet_j.studies import run_study

    overrides = _tiny_corpus_and_runs(tmp_path)
    first = run_study(str(tmp_path / "first"), pairs=(("U1", "J1"),), tables=False, overrides=overrides)
    again = run_study(str(tmp_path / "again"), pairs=(("U1", "J1"),), tables=False, overrides=overrides)
    assert sorted(os.listdir(tmp_path / "runs")) == ["study-J1", "study-U1"]  # trained once
    for name in ("U1", "J1"):
        with open(tmp_path / "runs" / f"study-{name}" / "result.json") as handle:
            result = json.load(handle)
        recorded = result.get("train_seconds", result["seconds_this_run"])
        assert again["train_seconds"][name] == first["train_seconds"][name] == recorded > 0


@pytest.mark.parametrize(
    "pair, message",
    [
        (("J1", "U1"), r"pair J1/U1: a pair is written U/J, .*; did you mean U1/J1\?"),
        (("U1", "U5"), r"pair U1/U5: a pair is written U/J, the trained model first and its twin"),
        (("U1", "J1", "J5"), r"a pair is two models written U/J, e\.g\. U1/J1; got 'U1/J1/J5'"),
    ],
)
def test_a_pair_the_wrong_way_round_is_refused_before_any_work(pair, message, tmp_path, monkeypatch):
    from wavenet_j.studies import plan_study, run_study

    monkeypatch.chdir(tmp_path)
    for start in (run_study, plan_study):
        with pytest.raises(StudyError, match=message):
            start(str(tmp_path / "study"), pairs=(pair,), tables=False)
    assert not list(tmp_path.iterdir())
