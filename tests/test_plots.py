"""Figures from evaluation results and audio files, through ``wavenet-j plot``."""

import numpy as np
import pytest

from wavenet_j.cli import main


def write_museval_json(folder, track, sdr):
    """A track's scores as ``wavenet-j evaluate`` writes them: museval's own JSON."""
    import museval

    store = museval.TrackStore(track_name=track, win=1.0, hop=1.0)
    for source, values in sdr.items():
        store.add_target(target_name=source, values={m: values for m in ("SDR", "ISR", "SIR", "SAR")})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{track}.json").write_text(store.json)


def assert_figure(path_base):
    png, svg = path_base.with_suffix(".png"), path_base.with_suffix(".svg")
    assert png.read_bytes().startswith(b"\x89PNG") and b"<svg" in svg.read_bytes()[:1000]


def test_violins_from_a_folder_of_models_or_from_model_folders(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for model, tracks in (("U1", 2), ("J1", 3)):
        for track in range(tracks):
            sdr = {
                source: [float(v) for v in rng.normal(5, 3, 20)] + [np.nan]
                for source in ("vocals", "accompaniment")
            }
            write_museval_json(tmp_path / "results" / model / "test", f"track {track}", sdr)
    main(["plot", str(tmp_path / "results"), "-o", str(tmp_path / "figures")])
    assert_figure(tmp_path / "figures" / "sdr_violins")
    assert capsys.readouterr().out.split() == [
        "wrote",
        str(tmp_path / "figures" / "sdr_violins.png"),
        "wrote",
        str(tmp_path / "figures" / "sdr_violins.svg"),
    ]
    main(
        [
            "plot",
            str(tmp_path / "results" / "U1"),
            str(tmp_path / "results" / "J1"),
            "-o",
            str(tmp_path / "each"),
        ]
    )
    assert_figure(tmp_path / "each" / "sdr_violins")


def test_spectrograms_of_audio_files(tmp_path):
    import soundfile

    t = np.arange(2 * 22050) / 22050
    tone, noise = 0.3 * np.sin(2 * np.pi * 440 * t), 0.01 * np.random.default_rng(0).standard_normal(len(t))
    for name, signal in (("mix", tone + noise), ("vocals", tone), ("accompaniment", noise)):
        soundfile.write(tmp_path / f"{name}.wav", np.stack([signal, signal], axis=1), 22050)
    main(
        [
            "plot",
            "--spectrogram",
            *(str(tmp_path / f"{n}.wav") for n in ("mix", "vocals", "accompaniment")),
            "-o",
            str(tmp_path / "figures"),
        ]
    )
    assert_figure(tmp_path / "figures" / "spectrogram")
    assert not (tmp_path / "figures" / "sdr_violins.png").exists()


def test_a_folder_without_scores_is_a_one_line_error(tmp_path):
    (tmp_path / "model" / "test").mkdir(parents=True)
    with pytest.raises(
        SystemExit, match=r"^wavenet-j plot: no museval scores \(test/\*\.json\) in '.*' or its subfolders$"
    ):
        main(["plot", str(tmp_path), "-o", str(tmp_path / "figures")])
    assert not (tmp_path / "figures").exists()
