"""evaluate_track against museval.evaluate, the oracle: generated signals always, real music when present."""

import os

import museval
import numpy as np
import pytest
import soundfile
from scipy.signal import lfilter

from wavenet_j.evaluation import evaluate_track

METRICS = ("SDR", "ISR", "SIR", "SAR")
MUSDB_EXCERPTS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "musdb_excerpts")


def museval_scores(references, estimates, rate):
    names = list(references)
    scores = museval.evaluate(
        [references[n] for n in names], [estimates[n] for n in names], win=rate, hop=rate
    )
    return {name: {metric: scores[m][j] for m, metric in enumerate(METRICS)} for j, name in enumerate(names)}


def assert_matches_museval(references, estimates, rate):
    """Every score within 0.01 dB of museval's, NaN exactly where museval's is; returns ours."""
    ours = evaluate_track(references, estimates, rate)
    oracle = museval_scores(references, estimates, rate)
    assert list(ours) == list(references)
    for name in references:
        for metric in METRICS:
            got, want = np.array(ours[name][metric]), oracle[name][metric]
            assert got.shape == want.shape, (name, metric)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{name} {metric} NaNs")
            np.testing.assert_allclose(got, want, rtol=0, atol=0.01, err_msg=f"{name} {metric}")
    return ours


def generated_track(seconds, rate, nsrc, nchan, seed=0):
    """Coloured-noise references; estimates are references + filtered leakage of the others + noise."""
    rng = np.random.default_rng(seed)
    length = int(seconds * rate)
    noise = rng.standard_normal((nsrc, length, nchan))
    references = {
        f"source{j}": lfilter([1.0], [1.0, -0.3 - 0.5 * j / nsrc], noise[j], axis=0) for j in range(nsrc)
    }
    estimates = {}
    for name, reference in references.items():
        leakage = sum(
            lfilter(0.2 * rng.standard_normal(8), [1.0], other, axis=0)
            for other_name, other in references.items()
            if other_name != name
        )
        estimates[name] = reference + leakage + 0.05 * rng.standard_normal((length, nchan))
    return references, estimates


@pytest.mark.parametrize(
    "seconds, rate, nsrc, nchan",
    [
        (10.5, 44100, 2, 2),  # not a whole number of seconds: the partial last window is dropped
        (8.0, 22050, 4, 2),
        (9.3, 22050, 3, 1),  # mono
    ],
)
@pytest.mark.slow
def test_matches_museval_on_generated_signals(seconds, rate, nsrc, nchan):
    references, estimates = generated_track(seconds, rate, nsrc, nchan)
    references["source0"][2 * rate : 4 * rate] = 0  # a silent reference: NaN windows for every source
    estimates["source1"][5 * rate : 6 * rate + 100] = 0  # a silent estimate: one more
    ours = assert_matches_museval(references, estimates, rate)
    assert len(ours["source1"]["SDR"]) == int(seconds)
    assert [t for t, v in enumerate(ours["source1"]["SIR"]) if np.isnan(v)] == [2, 3, 5]


def test_matches_museval_on_a_track_shorter_than_a_window():
    references, estimates = generated_track(0.6, 22050, 2, 2)
    assert len(assert_matches_museval(references, estimates, 22050)["source0"]["SDR"]) == 1


def test_matches_museval_on_real_music():
    if not os.path.isdir(MUSDB_EXCERPTS):
        pytest.skip(f"no MUSDB excerpts at {os.path.normpath(MUSDB_EXCERPTS)}")
    song = os.path.join(MUSDB_EXCERPTS, sorted(os.listdir(MUSDB_EXCERPTS))[0])
    audio = {}
    for stem in ("vocals_true", "accompaniment_true", "vocals_estimate", "accompaniment_estimate"):
        audio[stem], rate = soundfile.read(os.path.join(song, stem + ".mp3"), always_2d=True)
    length = min(min(len(a) for a in audio.values()), 12 * rate)
    references = {name: audio[name + "_true"][:length] for name in ("vocals", "accompaniment")}
    estimates = {name: audio[name + "_estimate"][:length] for name in ("vocals", "accompaniment")}
    assert_matches_museval(references, estimates, rate)


@pytest.mark.parametrize(
    "references, estimates, message",
    [
        ({"vocals": np.ones((100, 2))}, {"drums": np.ones((100, 2))}, "'drums'"),
        ({"vocals": np.ones((100, 2))}, {"vocals": np.ones((90, 2))}, "'vocals'.*\\(100, 2\\).*\\(90, 2\\)"),
        ({"vocals": np.ones(100)}, {"vocals": np.ones(100)}, "'vocals'.*\\(100,\\)"),
        (
            {"vocals": np.ones((100, 2)), "bass": np.ones((100, 1))},
            {"vocals": np.ones((100, 2)), "bass": np.ones((100, 1))},
            "'bass'.*\\(100, 1\\)",
        ),
        (
            {"vocals": np.ones((100, 2)), "bass": np.zeros((100, 2))},
            {"vocals": np.ones((100, 2)), "bass": np.ones((100, 2))},
            "'bass'.*silent",
        ),
    ],
)
def test_bad_input_raises_naming_the_source(references, estimates, message):
    with pytest.raises(ValueError, match=message):
        evaluate_track(references, estimates, 44100)
