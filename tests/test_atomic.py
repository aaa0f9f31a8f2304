"""Atomic writes: whole or absent, and a full disk named as one."""

import numpy as np
import pytest

from wavenet_j.atomic import DiskFull, atomic_path, write_text


def test_a_failed_write_leaves_the_old_file_and_no_staging_folder(tmp_path):
    path = tmp_path / "notes.txt"
    write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_path(path) as temporary:
        with open(temporary, "w") as handle:
            handle.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_full_disk_is_named_with_the_path_and_leaves_nothing(small_disk):
    disk = small_disk(64)
    with pytest.raises(DiskFull) as error:
        write_text(disk / "big.txt", "x" * 200_000)
    assert str(error.value) == f"cannot write {str(disk / 'big.txt')!r}: no space left on device"
    assert error.value.errno == 28 and not list(disk.iterdir())


def test_a_full_disk_in_libsndfile_or_tensorflow_is_named_too(small_disk):
    """libsndfile says only "System error" and TensorFlow raises ResourceExhaustedError without a
    message: the file system's free space tells."""
    import soundfile
    import tensorflow as tf

    disk = small_disk(64)
    with pytest.raises(DiskFull, match=r"'.*song\.wav': no space left on device"):
        with atomic_path(disk / "song.wav") as temporary:
            soundfile.write(temporary, np.zeros((100_000, 2), np.float32), 44100, subtype="FLOAT")
    with pytest.raises(DiskFull, match=r"'.*weights': no space left on device"):
        with atomic_path(disk / "weights") as temporary:
            tf.train.Checkpoint(v=tf.Variable(tf.zeros([100_000]))).write(temporary)
    assert not list(disk.iterdir())


def test_bad_input_on_a_full_disk_is_still_bad_input(small_disk):
    disk = small_disk(64)
    write_text(disk / "filler", "x" * 60_000)
    with pytest.raises(ValueError, match="not a disk problem"), atomic_path(disk / "out") as _:
        raise ValueError("not a disk problem")


@pytest.mark.slow
def test_export_and_separate_on_a_full_disk_end_in_one_line(small_disk, tmp_path, monkeypatch, capsys):
    import soundfile

    from wavenet_j.cli import main
    from wavenet_j.configs import resolve_config
    from wavenet_j.models import build_separator

    build_separator(resolve_config(["U1", "tiny"], {"num_frames": 1024})).save(tmp_path / "m.keras")
    soundfile.write(tmp_path / "song.wav", np.zeros((5 * 44100, 2), np.float32), 44100)
    disk = small_disk(200)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["export", "m.keras", "-o", str(disk / "saved")])
    saved = str(disk / "saved")
    assert exit_.value.code == f"wavenet-j export: cannot write {saved!r}: no space left on device"
    with pytest.raises(SystemExit) as exit_:
        main(["separate", "song.wav", "--model", "m.keras", "-o", str(disk)])
    assert exit_.value.code == "wavenet-j separate: 1 of 1 songs failed: 'song.wav'"
    err = capsys.readouterr().err
    line = f"wavenet-j separate: cannot write the stems of 'song.wav': cannot write '{disk}/song/"
    assert line in err and "': no space left on device\n" in err
    assert [p.name for p in disk.rglob("*") if p.is_file()] == []
