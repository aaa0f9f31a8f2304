"""Separating an audio file into stem files, streamed: read, separate and write as it goes.

Stems appear only when complete. They are first written as float32, so a second pass can
rescale or clamp what 16- or 24-bit files cannot hold, and say how much it changed.
"""

import contextlib
import os
import warnings
from collections.abc import Callable

import numpy as np
import soundfile

from wavenet_j.atomic import DiskFull, atomic_path, remove_partials
from wavenet_j.audio import AudioError, read_audio
from wavenet_j.separation.options import SeparationOptions
from wavenet_j.separation.segments import separate_blocks
from wavenet_j.separation.track import BLOCK, array_blocks

ENCODINGS = {"int16": "PCM_16", "int24": "PCM_24", "float32": "FLOAT"}
FORMATS = {"wav": "WAV", "flac": "FLAC"}
CLIPPING = ("clamp", "rescale")
TEMPLATE = "{track}/{source}.{ext}"


def stem_paths(song, output, sources, template=TEMPLATE, ext=None):
    """``{source: path}`` of a song's stems: ``template`` below ``output``, with ``{track}`` (the
    song's file name without extension), ``{parent}`` (its folder's name), ``{source}`` and ``{ext}``.

    A stem's format is its file name's: ``.wav`` or ``.flac``. ``ext`` (``"wav"`` or ``"flac"``) is
    what ``{ext}`` stands for and the format every name must then have; None lets the template's
    names choose, ``{ext}`` being ``wav``. Any other ending raises ValueError, so a ``.mp3`` name never
    holds WAV data.
    """
    if ext is not None and ext not in FORMATS:
        raise ValueError(f"stem format {ext!r} is not one of {list(FORMATS)}")
    song = os.path.abspath(os.fspath(song))
    fields = {
        "track": os.path.splitext(os.path.basename(song))[0],
        "parent": os.path.basename(os.path.dirname(song)),
        "ext": ext or "wav",
    }
    try:
        paths = {source: os.path.join(output, template.format(source=source, **fields)) for source in sources}
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"file-name template {template!r} is not valid: use the fields {{track}}, {{parent}}, "
            f"{{source}} and {{ext}} ({error!r})"
        ) from error
    if len(set(paths.values())) < len(paths):
        raise ValueError(
            f"file-name template {template!r} gives every source the same file: it needs {{source}}"
        )
    for path in paths.values():
        ending = _ending(path)
        if ending not in FORMATS or ext is not None and ending != ext:
            wanted = f".{ext}" if ext else ".wav or .flac (or .{ext})"
            raise ValueError(
                f"file-name template {template!r} gives {os.path.basename(path)!r}, but the stems are "
                f"{' or '.join(FORMATS)} files here: the names must end in {wanted}"
            )
    return paths


def stem_plan(songs, output, sources, *, template=TEMPLATE, ext=None, encoding=None):
    """``{song: {source: path}}`` for a batch of songs, refused (ValueError) before anything is
    separated when two songs would write one file, a stem would replace one of the songs, or
    ``encoding`` does not fit the stems' format."""
    plan = {song: stem_paths(song, output, sources, template, ext) for song in songs}
    writers, inputs = {}, {_identity(song): song for song in songs}
    for song, paths in plan.items():
        for path in paths.values():
            _stem_subtype(path, encoding, is_float=False)
            writer = writers.setdefault(os.path.abspath(path), song)
            if writer != song:
                raise ValueError(
                    f"{writer!r} and {song!r} would both write {path!r}; give a file-name template that "
                    f"tells them apart, e.g. '{{parent}}/{{track}}/{{source}}.{{ext}}'"
                )
            if _identity(path) in inputs:
                raise ValueError(
                    f"the stem {path!r} of {song!r} would replace the song {inputs[_identity(path)]!r}; "
                    f"give another output folder or file-name template"
                )
    return plan


def needs_separating(song: str, stems: dict[str, str], overwrite: bool = False) -> bool:
    """Whether ``song``'s ``stems`` (its ``stem_plan`` paths) are to be written: always with
    ``overwrite``; else not where all exist (the song is done), and an AudioError where only some do
    (another song's or run's files, which separating would silently replace)."""
    existing = [stem for stem in stems.values() if os.path.lexists(stem)]
    if overwrite or not existing:
        return True
    if len(existing) == len(stems):
        return False
    more = f" (and {len(existing) - 1} more of its stems)" if len(existing) > 1 else ""
    raise AudioError(
        f"{song!r}: {existing[0]!r} exists already{more}; nothing written for this song "
        f"(--overwrite replaces it)"
    )


def _identity(path):
    """What tells two names of one file apart from two files: its device and inode where it exists."""
    try:
        stats = os.stat(path)
        return stats.st_dev, stats.st_ino
    except OSError:
        return os.path.realpath(path)


def _ending(path):
    return os.path.splitext(path)[1][1:].lower()


def _stem_subtype(path, encoding, is_float):
    """The samples of a stem file: ``encoding``, or by default float for float input (24-bit in
    FLAC, which holds integers only) and 16-bit otherwise."""
    file_format = FORMATS[_ending(path)]
    if encoding is None:
        return ("PCM_24" if file_format == "FLAC" else "FLOAT") if is_float else "PCM_16"
    if encoding not in ENCODINGS:
        raise ValueError(f"stem encoding {encoding!r} is not one of {list(ENCODINGS)}")
    if file_format == "FLAC" and encoding == "float32":
        raise ValueError("FLAC holds integer samples only: choose int16 or int24, or wav for float32")
    return ENCODINGS[encoding]


def separate_file(
    model,
    path,
    output,
    *,
    template=TEMPLATE,
    ext=None,
    encoding=None,
    clipping="clamp",
    progress: Callable[[float, float], None] | None = None,
    options: SeparationOptions = SeparationOptions(),
) -> dict[str, str]:
    """Write the stems of the audio file ``path`` (see ``stem_paths``) at its rate and channel count,
    and return their paths; ``options``: ``SeparationOptions``.

    ``encoding`` is ``"int16"``, ``"int24"`` or ``"float32"``; by default float32 for a float input
    file (int24 in FLAC), else int16. Samples beyond [-1, 1] in an integer encoding are clamped
    (``clipping="clamp"``, with a warning that counts them) or all stems are scaled by one factor so
    the loudest fits (``"rescale"``, with a warning naming the factor).
    ``progress(seconds_done, seconds_total)`` is called as the song goes. Formats libsndfile cannot
    read (m4a, ...) are decoded whole by ffmpeg first; a file that decodes to less than its header
    claims is separated as far as it decodes, with a warning. What a killed run left of these stems
    is removed first.
    """
    path = os.fspath(path)
    if clipping not in CLIPPING:
        raise ValueError(f"clipping {clipping!r} is not one of {list(CLIPPING)}")
    targets = stem_paths(path, output, model.output, template, ext)
    for target in targets.values():
        _stem_subtype(target, encoding, is_float=False)  # refused before the song is read
    try:
        info = soundfile.info(path)
        rate, channels, frames, is_float = (
            info.samplerate,
            info.channels,
            info.frames,
            info.subtype in ("FLOAT", "DOUBLE"),
        )
        blocks = _file_blocks(path, frames, rate)
    except (RuntimeError, soundfile.LibsndfileError):
        mix, rate = read_audio(path)
        channels, frames, is_float = mix.shape[1], len(mix), False
        blocks = array_blocks(mix)
    encodings = {
        name: (FORMATS[_ending(target)], _stem_subtype(target, encoding, is_float))
        for name, target in targets.items()
    }
    for target in targets.values():
        remove_partials(target)
    try:
        with contextlib.ExitStack() as stack:
            finals = {name: stack.enter_context(atomic_path(target)) for name, target in targets.items()}
            floats = {
                name: os.path.join(os.path.dirname(final), "float.wav") for name, final in finals.items()
            }
            peaks = _separate_to_float(model, blocks, rate, channels, frames, floats, progress, options)
            _encode(floats, finals, rate, channels, encodings, clipping, peaks, path)
    except AudioError:
        raise
    except DiskFull as error:  # it names the stem
        raise AudioError(f"cannot write the stems of {path!r}: {error}") from error
    except (OSError, soundfile.LibsndfileError) as error:  # a read-only folder: nothing is left
        raise AudioError(
            f"cannot write the stems of {path!r} to {os.path.dirname(next(iter(targets.values())))!r}: "
            f"{error}"
        ) from error
    except ValueError as error:  # a mix this model cannot take: name the file
        raise AudioError(f"cannot separate {path!r}: {error}") from error
    return targets


def _separate_to_float(model, blocks, rate, channels, frames, floats, progress, options):
    """Separate into float32 files; returns each stem's peak magnitude."""
    peaks = dict.fromkeys(floats, 0.0)
    done = 0
    with contextlib.ExitStack() as stack:
        writers = {
            name: stack.enter_context(
                soundfile.SoundFile(file, "w", rate, channels, subtype="FLOAT", format="WAV")
            )
            for name, file in floats.items()
        }
        for out in separate_blocks(model, blocks, rate, options):
            for name, block in out.items():
                writers[name].write(block)
                peaks[name] = max(peaks[name], float(np.max(np.abs(block), initial=0.0)))
            done += len(next(iter(out.values())))
            if progress:
                progress(done / rate, max(frames, done) / rate)
    return peaks


def _encode(floats, finals, rate, channels, encodings, clipping, peaks, path):
    """The float32 stems in their final ``{source: (format, subtype)}``; what an integer encoding cannot
    hold is said."""
    scale = 1.0
    integers = sorted({subtype for _, subtype in encodings.values() if subtype != "FLOAT"})
    if integers and clipping == "rescale" and max(peaks.values()) > 1.0:
        scale = 1.0 / max(peaks.values())
        warnings.warn(
            f"{path!r}: all stems scaled by {scale:.3f} so the loudest fits {', '.join(integers)} "
            f"without clipping"
        )
    clamped = dict.fromkeys(floats, 0)
    for name, file in floats.items():
        file_format, subtype = encodings[name]
        if subtype == "FLOAT":  # float32 WAV already (FLAC holds no floats)
            os.replace(file, finals[name])
            continue
        with (
            soundfile.SoundFile(file) as source,
            soundfile.SoundFile(
                finals[name], "w", rate, channels, subtype=subtype, format=file_format
            ) as target,
        ):
            for block in source.blocks(BLOCK, dtype="float32", always_2d=True):
                block = block * scale
                clamped[name] += int(np.count_nonzero(np.abs(block) > 1.0))
                target.write(np.clip(block, -1.0, 1.0))
    if any(clamped.values()):
        counts = ", ".join(f"{name} {count}" for name, count in clamped.items() if count)
        warnings.warn(
            f"{path!r}: samples beyond full scale clamped to [-1, 1] ({counts}); "
            f"--clipping rescale scales the stems instead, --encoding float32 keeps them"
        )


def _file_blocks(path, header_frames, rate):
    """The file's samples block by block, until the decoder's data ends, whatever the header claims."""
    read = 0
    try:
        with soundfile.SoundFile(path) as sound:
            while True:
                block = sound.read(BLOCK, dtype="float32", always_2d=True)
                if not len(block):
                    break
                read += len(block)
                yield block
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise AudioError(f"cannot read audio file {path!r}: {error}") from error
    if not read:
        raise AudioError(f"audio file {path!r} decodes to no samples (its header claims {header_frames})")
    if read < header_frames:
        warnings.warn(
            f"{path!r} decodes to {read / rate:.2f} s, less than the {header_frames / rate:.2f} s its "
            f"header claims: it is probably truncated; its stems end where its audio does"
        )
