"""The architecture benchmark: its space and sampler, the proxies' scores on records made by hand, and a
tiny benchmark that trains, resumes, shards and merges."""

import json
import os

import numpy as np
import pytest

from wavenet_j.configs import resolve_config
from wavenet_j.studies.proxies import PROXIES
from wavenet_j.studies.scoring import TARGETS, score_proxies, top_k_hit_rate
from wavenet_j.studies.space import SPACE, describe, sample_variants, space_size, variant_overrides


def test_the_sample_starts_at_u1_never_repeats_and_grows_by_extension():
    first = sample_variants(40, seed=3)
    assert describe(first[0]) == "U1"
    assert len({json.dumps(v, sort_keys=True) for v in first}) == 40
    assert sample_variants(12, seed=3) == first[:12]
    assert sample_variants(12, seed=4) != first[:12]
    with pytest.raises(ValueError, match="between 1 and"):
        sample_variants(space_size() + 1)


def test_overrides_scale_the_base_filters_and_clip_levels_to_the_depth():
    variant = dict(
        sample_variants(1)[0], num_layers=6, filters_scale=1.5, res_path=(3, 10), multires_levels=10
    )
    overrides = variant_overrides(variant, resolve_config(["tiny"]))
    assert overrides["num_initial_filters"] == 12 and overrides["num_layers"] == 6
    assert overrides["res_path_levels"] == 6 and overrides["multires_levels"] == 6
    assert resolve_config(["tiny"], overrides)["res_path_units"] == 3  # a config that validates
    assert variant_overrides(variant, resolve_config([]))["num_initial_filters"] == 36
    assert describe(variant) == "L6 f1.5 res3x10 multires10"
    assert set(variant) == set(SPACE)


def test_top_k_hit_rate_on_known_orders():
    truth = np.arange(10.0)
    assert top_k_hit_rate(truth, truth) == 1.0
    assert top_k_hit_rate(-truth, truth, subset=10) == 0.0
    # The best of 8 random candidates is among the proxy's top 3 unless it ranks it last of them:
    # a proxy that puts the true best last and keeps the rest in order hits whenever it is not drawn.
    proxy = truth.copy()
    proxy[9] = -1
    assert top_k_hit_rate(proxy, truth) == pytest.approx(1 - 8 / 10, abs=0.03)


def _record(name, sdr, proxy_values, j_loss, curve):
    return {
        "name": name,
        "U": {
            "mean_sdr": {"vocals": sdr, "accompaniment": 2 * sdr},
            "median_sdr": {"vocals": sdr + 1, "accompaniment": 2 * sdr + 1},
            "validation_loss": curve[-1],
            "validation_curve": curve,
            "train_seconds": 100.0,
        },
        "J": {"validation_loss": j_loss, "train_seconds": 60.0},
        "proxies": {p: {"value": v, "seconds": 2.0} for p, v in proxy_values.items()},
    }


def test_scores_of_proxies_that_order_the_variants_rightly_and_wrongly():
    records = [
        _record(
            f"v{i:03d}",
            sdr=float(i),
            proxy_values={
                "synflow": 10.0**i,
                "snip": float(i),
                "jacob_cov": -float(i),
                "naswot": float(i % 2),
            },
            j_loss=1.0 / (i + 1),
            curve=[1.0 / (i + 1) + 0.5, 1.0 / (i + 1) + 0.1, 1.0 / (i + 2)],
        )
        for i in range(6)
    ]
    scores = score_proxies(records, bootstrap=200)
    for proxy in ("synflow", "snip", "J", "U@1", "U@2"):
        entry = scores[proxy]["targets"]["vocals_mean_sdr"]
        assert entry["spearman"] == pytest.approx(1.0) and entry["kendall"] == pytest.approx(1.0), proxy
        assert entry["top3_hit_rate"] == 1.0
    assert scores["jacob_cov"]["targets"]["vocals_mean_sdr"]["spearman"] == pytest.approx(-1.0)
    assert scores["jacob_cov"]["targets"]["vocals_mean_sdr"]["top3_hit_rate"] == 0.0
    assert set(scores["synflow"]["targets"]) == set(TARGETS)
    # The vote's ranks: synflow and snip agree, jacob_cov is reversed, so its order is theirs.
    assert scores["vote"]["targets"]["vocals_median_sdr"]["spearman"] == pytest.approx(1.0)
    assert scores["vote"]["median_seconds"] == 6.0
    assert scores["U@1"]["median_seconds"] == pytest.approx(100.0 / 3)
    assert scores["U@1"]["share_of_u_training"] == pytest.approx(1 / 3)
    assert scores["J"]["share_of_u_training"] == pytest.approx(0.6)
    assert "L" not in scores  # no record has it


@pytest.mark.slow
def test_a_tiny_benchmark_shards_merges_and_resumes(tmp_path):
    from test_study import _results_and_models, _tiny_corpus_and_runs
    from wavenet_j.studies import plan_bench, run_bench

    overrides = _tiny_corpus_and_runs(tmp_path)
    out, options = str(tmp_path / "bench"), dict(count=3, overrides=overrides)
    assert [row["model"] for row in plan_bench(out, **options)] == [
        f"{kind}-v{i:03d}" for i in range(3) for kind in "UJL"
    ]
    shards = [run_bench(out, shard=(i, 2), **options) for i in range(2)]
    assert [s["variants"] for s in shards] == [["v000", "v002"], ["v001"]]
    merged = run_bench(out, merge=True, **options)
    assert merged["variants"] == merged["complete"] == 3 and not merged["gaps"]
    for proxy in (*PROXIES, "vote", "J", "L", "U@1"):
        assert merged["scores"][proxy]["variants"] == 3, proxy
    with open(os.path.join(out, "variants", "v001.json")) as handle:
        record = json.load(handle)
    assert set(record["proxies"]) == set(PROXIES) and {"U", "J", "L"} <= set(record)
    assert record["U"]["validation_curve"][-1] >= record["U"]["validation_loss"]
    stamps = {p: os.path.getmtime(p) for p in _results_and_models(tmp_path)}
    assert len(stamps) == 3 * 3 + 3 * 2  # best.keras of U, J and L; the test track of U and J
    again = run_bench(out, **options)
    assert {p: os.path.getmtime(p) for p in _results_and_models(tmp_path)} == stamps  # nothing redone
    assert again["scores"] == merged["scores"]
    assert plan_bench(out, **options) == []
    with open(os.path.join(out, "report.md")) as handle:
        report = handle.read()
    assert "| synflow | 3 |" in report and "| v002 |" in report
    assert os.path.exists(os.path.join(out, "proxy_rho_vs_cost.png"))
    with pytest.raises(Exception, match="another variant"):
        run_bench(out, count=3, seed=1, overrides=overrides)


def test_search_by_a_proxy_ranks_without_training(tmp_path, capsys, monkeypatch):
    from wavenet_j.cli import main

    monkeypatch.chdir(tmp_path)
    main(["search", "--proxy", "synflow", "U1", "U3_10", "U4", "--with", "tiny"])
    result = json.loads(capsys.readouterr().out)
    ranking = result["ranking_by_synflow"]
    values = [entry["synflow"] for entry in ranking]
    assert values == sorted(values, reverse=True) and result["chosen"] == ranking[0]["model"] == "U3_10"
    assert ranking[1]["synflow"] == ranking[2]["synflow"]  # U4 is U1's architecture, trained in two stages
    assert os.listdir(tmp_path) == []  # synflow needs no data, and nothing trains
    with pytest.raises(SystemExit, match="unknown proxy 'sinflow'; known: J, grad_norm"):
        main(["search", "--proxy", "sinflow", "U1"])
