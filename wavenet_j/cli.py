"""``wavenet-j``: one command, one subcommand per job.

A user error (a bad option, a missing file, an unknown config key) ends with one line,
``wavenet-j <command>: <what is wrong>``, and exit status 1; a traceback means a bug.
"""

import argparse
import json
import os
import sys
import warnings

from wavenet_j.backend import BACKENDS, BackendError, require_tensorflow, requested, use_backend
from wavenet_j.startup import start_backend


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line and status 1 like every other user error."""

    def error(self, message):
        sys.exit(f"{self.prog}: {message}")


def _user_errors():
    """The exceptions that report bad input (each names what is wrong), as opposed to bugs."""
    from wavenet_j.audio import AudioError
    from wavenet_j.configs import ConfigError
    from wavenet_j.data.tracks import DataError
    from wavenet_j.evaluation.musdb import EvaluationError
    from wavenet_j.interop import CheckpointMismatch
    from wavenet_j.studies import StudyError
    from wavenet_j.training import TrainingError

    return (
        AudioError,
        BackendError,
        ConfigError,
        DataError,
        EvaluationError,
        CheckpointMismatch,
        StudyError,
        TrainingError,
        OSError,
    )


def _shard(text):
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise argparse.ArgumentTypeError(f"{text!r} must be i/n with 0 <= i < n, e.g. 0/4")
    return int(index), int(count)


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 1")
    return int(text)


def _load_config(spec):
    """A named config (``M5``, ``J1+tiny``), or a JSON file holding one of the original's model_config
    dicts, for a checkpoint trained with settings no named config has."""
    from wavenet_j.configs import resolve_config
    from wavenet_j.interop import from_original_config

    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as handle:
            return from_original_config(json.load(handle))
    return resolve_config(spec.split("+"))


def _model_name(path):
    """A column name: a released model's name, the file's stem, or its folder's name for a run's
    ``best.keras``."""
    from wavenet_j.interop.pretrained import RELEASED

    if path in RELEASED:
        return path
    stem = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
    return os.path.basename(os.path.dirname(os.path.abspath(path))) if stem == "best" else stem


def _models(args):
    """``[(name, path, model_config or None)]`` from ``--model`` and ``--original-ckpt``/``--config``."""
    if args.original_ckpt and not args.config:
        raise argparse.ArgumentTypeError(
            "--original-ckpt needs --config (the checkpoint's named config, or its JSON)"
        )
    if args.config and not args.original_ckpt:
        raise argparse.ArgumentTypeError(
            "--config goes with --original-ckpt: a .keras model carries its own config"
        )
    paths = args.model if isinstance(args.model, list) else [args.model] if args.model else []
    models = [(_model_name(path), path, None) for path in paths]
    if args.original_ckpt:
        name = f"original-{_model_name(args.original_ckpt)}"
        models.append((name, args.original_ckpt, _load_config(args.config)))
    return models


def _separation(args):
    """``separate_track``'s options from the flags ``separate`` and ``evaluate`` share."""
    precision = "mixed_bfloat16" if args.bf16 else None
    return {"stages": args.stages, "windows": args.windows, "precision": precision}


def _list_models(args):
    from wavenet_j.configs import MODEL_NAMES
    from wavenet_j.models.summary import models_table

    print(models_table(args.names or MODEL_NAMES))


def _train(args):
    from wavenet_j.configs import parse_overrides, resolve_config
    from wavenet_j.training import train

    config = resolve_config(args.names, parse_overrides(args.set))
    result = train(config, args.id or "+".join(args.names))
    print(f"best model: {result['best_model']}\nTensorBoard: tensorboard --logdir {result['log_dir']}")


class _DownloadBar:
    """``progress(done, total)`` as a bar in bytes, shown from a download's first bytes; a context
    manager that closes it however the download ends."""

    def __init__(self):
        self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def __call__(self, done, total):
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(desc="downloading the released models", unit="B", unit_scale=True, initial=done)
        self.bar.total = total
        self.bar.update(done - self.bar.n)  # redrawn at tqdm's pace, not at every chunk
        if done == total:
            self.close()  # importing follows: the bar's clock stops here

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _load(path, config=None):
    """``load_separator``, with a progress bar where a released model is downloaded."""
    from wavenet_j.interop import load_separator

    with _DownloadBar() as bar:
        return load_separator(path, config, bar)


def _pretrained(args):
    from wavenet_j.interop import pretrained

    if args.from_zip:
        pretrained.install_from_zip(args.from_zip)
    elif args.from_dir:
        pretrained.install_from_dir(args.from_dir)
    elif args.download:
        with _DownloadBar() as bar:
            pretrained.released_model(pretrained.DEFAULT, bar)  # installs all three, loads none
    print("| model | config | separates | rate | published (MUSDB18 test, median SDR (mean)) | cached |")
    print("|---|---|---|---|---|---|")
    for name, model in pretrained.RELEASED.items():
        cached = pretrained.model_path(name) if pretrained.installed(name) else "no"
        default = " (default)" if name == pretrained.DEFAULT else ""
        print(
            f"| {name}{default} | {model.config} | {model.separates} | {model.rate} Hz | {model.published} "
            f"| {cached} |"
        )


def _import_original(args):
    from wavenet_j.atomic import atomic_path

    model, _ = _load(args.checkpoint, _load_config(args.config))
    with atomic_path(args.output) as temporary:
        model.save(temporary)
    print(f"wrote {args.output}")


def _export(args):
    from wavenet_j.interop import export_model

    model, _ = _load(args.model)
    export_model(model, args.output, args.format)
    print(f"wrote {args.output}")


def _separate(args):
    from tqdm import tqdm

    from wavenet_j.audio import AudioError, audio_files
    from wavenet_j.interop.pretrained import DEFAULT
    from wavenet_j.separation import stem_plan

    ((_, path, config),) = _models(args) or [(DEFAULT, DEFAULT, None)]
    songs = audio_files(args.songs)
    model, _ = _load(path, config)
    try:
        stems = stem_plan(
            songs, args.output, model.output, template=args.filename, ext=_ext(args), encoding=args.encoding
        )
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    failed = []
    for number, song in enumerate(songs, 1):
        existing = [stem for stem in stems[song].values() if os.path.lexists(stem)]
        try:
            if existing and not args.overwrite:
                if len(existing) == len(stems[song]):
                    tqdm.write(f"{song}: its stems exist, skipped (--overwrite separates it again)")
                    continue
                more = f" (and {len(existing) - 1} more of its stems)" if len(existing) > 1 else ""
                raise AudioError(
                    f"{song!r}: {existing[0]!r} exists already{more}; nothing written for this song "
                    f"(--overwrite replaces it)"
                )
            _separate_song(model, song, f"song {number}/{len(songs)}", args)
        except AudioError as error:
            failed.append(song)
            tqdm.write(f"wavenet-j separate: {error}", file=sys.stderr)
            continue
        tqdm.write(f"{song} -> {', '.join(stems[song].values())}")
    if failed:
        sys.exit(
            f"wavenet-j separate: {len(failed)} of {len(songs)} songs failed: {', '.join(map(repr, failed))}"
        )


def _ext(args):
    """``--flac`` fixes the stems' format; without it the file-name template's names choose."""
    return "flac" if args.flac else None


def _separate_song(model, song, label, args):
    """One song's stems, with a progress bar in seconds of audio."""
    from tqdm import tqdm

    from wavenet_j.separation import separate_file

    bar_format = "{desc}: {percentage:3.0f}% {n:.0f}/{total:.0f} s of audio [{elapsed}<{remaining}]"
    with tqdm(desc=label, unit="s", bar_format=bar_format, total=1, leave=False) as bar:

        def progress(done, total):
            bar.total, bar.n = total, done
            bar.refresh()

        separate_file(
            model,
            song,
            args.output,
            template=args.filename,
            ext=_ext(args),
            encoding=args.encoding,
            clipping=args.clipping,
            progress=progress,
            jit_compile=args.xla,
            **_separation(args),
        )


def _evaluate(args):
    from tqdm import tqdm

    from wavenet_j.evaluation.musdb import evaluate_model, write_comparison

    models = _models(args)
    if not models:
        raise argparse.ArgumentTypeError(
            "give --model PATH.keras (repeatable) and/or --original-ckpt CKPT --config NAME"
        )
    for name, path, config in models:
        estimates = os.path.join(args.estimates, name) if args.estimates else None
        with tqdm(desc=f"evaluating {name}", unit="track") as bar:
            evaluate_model(
                path,
                os.path.join(args.output, name),
                args.musdb,
                model_config=config,
                subset=args.subset,
                separation=_separation(args),
                shard=args.shard,
                workers=args.workers,
                progress=lambda _: bar.update(),
                estimates_dir=estimates,
            )
    print(write_comparison(args.output, args.subset))


def _plot(args):
    from wavenet_j.audio import read_audio
    from wavenet_j.evaluation.musdb import scored_models
    from wavenet_j.evaluation.plots import sdr_violins, spectrograms

    if not args.results and not args.spectrogram:
        raise argparse.ArgumentTypeError("give result folders and/or --spectrogram MIX STEM ...")
    results = scored_models(args.results, args.subset) if args.results else {}
    audio = {path: read_audio(path) for path in args.spectrogram}
    rates = {rate for _, rate in audio.values()}
    if len(rates) > 1:
        raise argparse.ArgumentTypeError(
            f"the --spectrogram files must share one rate, not {sorted(rates)} Hz"
        )
    written = sdr_violins(results, os.path.join(args.output, "sdr_violins")) if results else []
    if audio:
        common = os.path.commonpath([os.path.dirname(os.path.abspath(path)) for path in audio])
        signals = {os.path.relpath(path, common): signal for path, (signal, _) in audio.items()}
        written += spectrograms(signals, rates.pop(), os.path.join(args.output, "spectrogram"))
    print("\n".join(f"wrote {path}" for path in written))


def _base(names):
    """``--with``'s names as a list: ``""`` (full size) is none."""
    return [name for name in names.split("+") if name]


def _duration(seconds):
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else f"{seconds / 60:.0f} min"
        if seconds < 7200
        else f"{seconds / 3600:.1f} h"
    )


def _print_plan(rows):
    """The plan as a table; the J/U cost per step of each pair whose both models will train."""
    print("| model | to do | s/step (batch) | steps | training time |\n|---|---|---|---|---|")
    for row in rows:
        if "step_seconds" not in row:
            print(f"| {row['model']} | {row['action']} | | | |")
            continue
        (low, high), (fast, slow) = row["steps"], row["seconds"]
        steps = f"{low}" if low == high else f"{low}–{high}" if high else f">= {low}"
        time = (
            _duration(fast)
            if low == high
            else f"{_duration(fast)}–{_duration(slow)}"
            if high
            else f">= {_duration(fast)}"
        )
        print(
            f"| {row['model']} | {row['action']} | {row['step_seconds']:.3f} ({row['batch_size']}) "
            f"| {steps} | {time} |"
        )
    timed = {row["model"]: row["step_seconds"] for row in rows if "step_seconds" in row}
    ratios = [
        f"{'J' + name[1:]}/{name} {timed['J' + name[1:]] / seconds:.2f}"
        for name, seconds in timed.items()
        if name.startswith("U") and "J" + name[1:] in timed
    ]
    if ratios:
        print(f"\nJ/U time per step: {', '.join(ratios)}")
    total = sum(row["seconds"][0] for row in rows if "seconds" in row)
    print(f"training on this machine: at least {_duration(total)} in all (evaluation not included)")


def _study(args):
    from wavenet_j.configs import parse_overrides
    from wavenet_j.studies import plan_study, run_study

    pairs = [tuple(pair.split("/")) for pair in args.pairs] if args.pairs else None
    options = dict(
        base=_base(args.base),
        tables=not args.no_tables,
        study_id=args.study_id,
        overrides=parse_overrides(args.set),
        **({"pairs": pairs} if pairs else {}),
    )
    if args.plan:
        _print_plan(plan_study(args.output, shard=args.shard, **options))
        return
    report = run_study(args.output, windows=args.windows, shard=args.shard, merge=args.merge, **options)
    _print_report(args, report, report.get("models"), "the figures and tables")


def _print_report(args, report, done, outputs):
    """After ``study`` or ``bench-arch``: what a shard did (``done``), else ``report.md``; gaps exit 1."""
    if args.shard:
        print(
            f"shard {args.shard[0]}/{args.shard[1]} done: {', '.join(done)} in {args.output}; "
            f"run {args.command} again without --shard (or with --merge) for {outputs}"
        )
    else:
        with open(os.path.join(args.output, "report.md"), encoding="utf-8") as handle:
            print(handle.read())
    if report["gaps"]:
        sys.exit(f"wavenet-j {args.command}: gaps in the results: {sorted(report['gaps'])}")


def _search(args):
    from wavenet_j.configs import parse_overrides
    from wavenet_j.studies import plan_search, rank_by_proxy, search

    options = dict(base=_base(args.base), overrides=parse_overrides(args.set))
    if args.proxy != "J":
        print(json.dumps(rank_by_proxy(args.candidates, args.proxy, **options), indent=1))
        return
    if args.plan:
        _print_plan(plan_search(args.candidates, args.output, **options))
        print(f"(the U models train only if among the top {args.top_k})")
        return
    print(json.dumps(search(args.candidates, args.output, top_k=args.top_k, **options), indent=1))


def _bench_arch(args):
    from wavenet_j.configs import parse_overrides
    from wavenet_j.studies import plan_bench, run_bench

    options = dict(
        count=args.count,
        seed=args.seed,
        base=_base(args.base),
        overrides=parse_overrides(args.set),
        study_id=args.study_id,
    )
    if args.plan:
        _print_plan(plan_bench(args.output, shard=args.shard, **options))
        return
    report = run_bench(args.output, shard=args.shard, merge=args.merge, **options)
    _print_report(args, report, report["variants"], "the report")


def _add_overrides(parser):
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model_config override, values read as in Sacred (repeatable), "
        "e.g. --set musdb_path=/data/musdb18hq --set epoch_it=500",
    )


def _add_model_options(parser, several):
    """``--model`` or ``--original-ckpt`` with ``--config``: exclusive for one model, both allowed for
    several (``evaluate`` compares them)."""
    group = parser if several else parser.add_mutually_exclusive_group()
    more = " (repeatable)" if several else "; default: M5-HighSR"
    group.add_argument(
        "--model",
        action="append" if several else "store",
        default=[] if several else None,
        help="a released model (M4, M5-HighSR, M6: downloaded on first use) or a .keras model, "
        f"e.g. checkpoints/<id>/best.keras{more}",
    )
    group.add_argument(
        "--original-ckpt", help="an original Wave-U-Net TF1 checkpoint prefix (needs --config)"
    )
    parser.add_argument(
        "--config",
        help="the original checkpoint's named config (e.g. full_44KHz) or the JSON of its model_config",
    )


def _add_windows_option(parser, default):
    parser.add_argument(
        "--windows",
        choices=["original", "shared"],
        default=default,
        help="context models' window grid: 'original' (the original's predict_track, "
        "scores comparable with its and the paper's) or 'shared' (several times faster, "
        f"estimates slightly different); default: {default}",
    )


def _add_separation_options(parser, windows):
    parser.add_argument(
        "--stages", type=_positive, default=1, help="progressive inference stages (models without context)"
    )
    _add_windows_option(parser, windows)
    parser.add_argument(
        "--bf16",
        action="store_true",
        help="compute in bfloat16: about 2x faster where the processor has bf16 arithmetic",
    )


def _add_study_options(parser):
    """What ``study`` and ``search`` change in every model they train: ``--with`` as Sacred's ``with``."""
    parser.add_argument(
        "--with",
        dest="base",
        default="tiny",
        metavar="NAMES",
        help="named configs applied on top of every model, joined with '+' (default: tiny; '' for full size)",
    )
    _add_overrides(parser)


def _command(commands, name, run, help, example):
    parser = commands.add_parser(
        name,
        help=help,
        description=help,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)
    return parser


def _add_models_command(commands):
    models = _command(
        commands,
        "models",
        _list_models,
        "parameters (trained / frozen), lengths and receptive field of named models",
        "wavenet-j models U1 J1 M4 J1+tiny",
    )
    models.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="named configs, several joined with '+' (e.g. J1+tiny); default: every paper model",
    )


def _add_train_command(commands):
    train = _command(
        commands,
        "train",
        _train,
        "train a named model (as experiments/train.py with cfg.NAME)",
        "wavenet-j train J1 --set musdb_path=/data/musdb18hq --id j1",
    )
    train.add_argument(
        "names", nargs="+", metavar="NAME", help="named configs, applied in order (e.g. J1 tiny)"
    )
    _add_overrides(train)
    train.add_argument(
        "--id",
        help="the experiment id: run folder <model_base_dir>/<id>, resumed if it "
        "exists (default: the names joined with '+', as experiments/train.py "
        "names it)",
    )


def _add_import_original_command(commands):
    original = _command(
        commands,
        "import-original",
        _import_original,
        "turn an original Wave-U-Net TF1 checkpoint into a .keras model",
        "wavenet-j import-original checkpoints/full_44KHz/full_44KHz-236118 "
        "--config full_44KHz -o m5_highsr.keras",
    )
    original.add_argument(
        "checkpoint",
        help="checkpoint prefix (e.g. checkpoints/full_44KHz/full_44KHz-236118), or its .index file",
    )
    original.add_argument(
        "--config",
        required=True,
        help="the checkpoint's config: a named config (M4, full_44KHz, ...) or a JSON file "
        "of the original's model_config dict",
    )
    original.add_argument("-o", "--output", required=True, help="where to write the .keras model")


def _add_pretrained_command(commands):
    pretrained = _command(
        commands,
        "pretrained",
        _pretrained,
        "the original Wave-U-Net's released models (M4, M5-HighSR, M6): list, download or install them",
        "wavenet-j pretrained --from-zip ~/Downloads/models.zip",
    )
    source = pretrained.add_mutually_exclusive_group()
    source.add_argument(
        "--download", action="store_true", help="download and install them now ($WAVENET_J_MODELS_URL)"
    )
    source.add_argument("--from-zip", metavar="ZIP", help="install from a copy of the original's models.zip")
    source.add_argument(
        "--from-dir", metavar="DIR", help="install from its unzipped checkpoints/ folder (or its parent)"
    )


def _add_export_command(commands):
    export = _command(
        commands,
        "export",
        _export,
        "write a .keras model as a SavedModel (serves without wavenet_j) or TFLite",
        "wavenet-j export checkpoints/j1/best.keras --format savedmodel -o j1_savedmodel",
    )
    export.add_argument("model", help="a .keras model")
    export.add_argument("--format", choices=["savedmodel", "tflite"], default="savedmodel")
    export.add_argument(
        "-o", "--output", required=True, help="the SavedModel folder or .tflite file to write"
    )


def _add_separate_command(commands):
    separate = _command(
        commands,
        "separate",
        _separate,
        "separate songs (any format ffmpeg reads) into stems",
        "wavenet-j separate song.mp3 other.flac  (M5-HighSR; --model checkpoints/j1/best.keras for yours)",
    )
    separate.add_argument(
        "songs",
        nargs="+",
        metavar="SONG",
        help="audio files: wav, flac, mp3, m4a, ... (anything ffmpeg decodes), any rate and channels; "
        "a folder stands for the audio files in it",
    )
    _add_model_options(separate, several=False)
    _add_separation_options(separate, windows="shared")
    separate.add_argument(
        "-o",
        "--output",
        default="separated",
        help="stems go to OUTPUT/<--filename> (default: separated/<song name>/<source>.wav)",
    )
    separate.add_argument(
        "--filename",
        default="{track}/{source}.{ext}",
        help="stem file names below OUTPUT, from {track} (the song's file name), "
        "{parent} (its folder's name), {source} and {ext} (wav, or flac with --flac); a name "
        "ending in .flac writes FLAC; default: {track}/{source}.{ext}",
    )
    separate.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files at the stems' paths (default: a song whose stems all exist is skipped, "
        "one with some of them is refused)",
    )
    separate.add_argument(
        "--encoding",
        choices=["int16", "int24", "float32"],
        help="stem samples (default: float32 for float input files, int24 in FLAC; else int16)",
    )
    separate.add_argument(
        "--flac", action="store_true", help="write FLAC instead of WAV (integer samples: int16 or int24)"
    )
    separate.add_argument(
        "--no-xla",
        dest="xla",
        action="store_false",
        help="run the model without XLA (by default it is compiled with XLA: about 1.2x faster on "
        "CPUs, the same numbers within float rounding; compilations are kept in ~/.cache/wavenet_j/xla)",
    )
    separate.add_argument(
        "--clipping",
        choices=["clamp", "rescale"],
        default="clamp",
        help="integer stems beyond full scale: clamp those samples, or scale all stems "
        "of the song by one factor (either is reported); default: clamp",
    )


def _add_evaluate_command(commands):
    evaluate = _command(
        commands,
        "evaluate",
        _evaluate,
        "score models on MUSDB's test set: museval JSON per track, the paper's SDR statistics",
        "wavenet-j evaluate --musdb /data/musdb18hq --model checkpoints/j1/best.keras -o results",
    )
    evaluate.add_argument("--musdb", required=True, help="MUSDB18 or MUSDB18-HQ root")
    _add_model_options(evaluate, several=True)
    _add_separation_options(evaluate, windows="original")
    evaluate.add_argument("--subset", default="test", help="MUSDB subset to score: test (default) or train")
    evaluate.add_argument("--workers", type=_positive, default=1, help="tracks scored in parallel processes")
    evaluate.add_argument(
        "--shard", type=_shard, default=(0, 1), help="i/n: every n-th track from the i-th (several machines)"
    )
    evaluate.add_argument(
        "-o",
        "--output",
        default="results",
        help="results go to OUTPUT/<model>/, the SDR violin plots to OUTPUT/sdr_violins.png/.svg",
    )
    evaluate.add_argument(
        "--estimates",
        metavar="DIR",
        help="also keep the estimates, as DIR/<model>/<subset>/<track>/<source>.wav: "
        "museval's eval_mus_dir(musdb.DB(...), 'DIR/<model>') scores them",
    )


def _add_plot_command(commands):
    plot = _command(
        commands,
        "plot",
        _plot,
        "violin plots of segment SDRs from evaluation results; spectrograms of a mix and its stems",
        "wavenet-j plot results -o figures --spectrogram song.wav separated/song/vocals.wav",
    )
    plot.add_argument(
        "results",
        nargs="*",
        metavar="RESULTS",
        help="a model's results folder (holding test/*.json), or a folder of them (evaluate's -o)",
    )
    plot.add_argument("--subset", default="test")
    plot.add_argument(
        "--spectrogram",
        nargs="+",
        default=[],
        metavar="AUDIO",
        help="audio files (a mix, then stems) drawn as stacked spectrograms on one colour scale",
    )
    plot.add_argument(
        "-o",
        "--output",
        default="figures",
        help="writes OUTPUT/sdr_violins.png/.svg and OUTPUT/spectrogram.png/.svg",
    )


def _add_study_command(commands):
    study = _command(
        commands,
        "study",
        _study,
        "train and evaluate (U, J) pairs; the paper's figures, tables and correlations",
        'wavenet-j study --with "" --set musdb_path=/data/musdb18hq -o results/study',
    )
    _add_study_options(study)
    study.add_argument("--pairs", nargs="+", metavar="U/J", help="default: every pair the paper names")
    study.add_argument("--no-tables", action="store_true", help="skip Tables 1-3 (their extra models)")
    study.add_argument("--study-id", default="study", help="runs are <model_base_dir>/<study-id>-<model>")
    _add_windows_option(study, "original")
    study.add_argument(
        "--plan",
        action="store_true",
        help="print every run that would be trained or evaluated, what is reused, and "
        "estimated training times from a few timed steps of each model here; "
        "train nothing",
    )
    machines = study.add_mutually_exclusive_group()
    machines.add_argument(
        "--shard",
        type=_shard,
        help="i/n: train and evaluate every n-th model from the i-th "
        "(one of n machines sharing OUTPUT); draws nothing",
    )
    machines.add_argument(
        "--merge",
        action="store_true",
        help="train nothing: draw the figures and tables from what the shards wrote",
    )
    study.add_argument("-o", "--output", default="docs/study")


def _add_search_command(commands):
    search = _command(
        commands,
        "search",
        _search,
        "rank U variants by their J twins, train only the best as U",
        "wavenet-j search U2_2_5 U3_10 --top-k 1 --with tiny -o search",
    )
    search.add_argument("candidates", nargs="+", metavar="U_MODEL")
    _add_study_options(search)
    search.add_argument(
        "--proxy",
        default="J",
        help="J: rank by the J twins' validation loss (trains them, then the top k as U; the default); "
        "or a training-free proxy at initialisation, which trains nothing: grad_norm, snip, grasp, fisher, "
        "synflow, jacob_cov, naswot, params, flops or vote (docs/study.md defines each)",
    )
    search.add_argument("--top-k", type=_positive, default=2, help="U models trained after ranking by J")
    search.add_argument(
        "--plan", action="store_true", help="print the runs and their estimated training times; train nothing"
    )
    search.add_argument("-o", "--output", default="search")


def _add_bench_arch_command(commands):
    bench = _command(
        commands,
        "bench-arch",
        _bench_arch,
        "sample Wave-U-Net variants around U1, train each as U, J and L, compute every proxy, "
        "and score the proxies by rank correlation",
        "wavenet-j bench-arch -n 24 --with tiny -o docs/study/bench",
    )
    bench.add_argument("-n", "--count", type=_positive, default=24, help="variants (U1 is the first)")
    bench.add_argument("--seed", type=int, default=0, help="of the sampler: another seed, other variants")
    _add_study_options(bench)
    bench.add_argument("--study-id", default="bench", help="runs are <model_base_dir>/<study-id>-<kind>-v<i>")
    bench.add_argument(
        "--plan", action="store_true", help="print the runs still to train and their estimated times"
    )
    machines = bench.add_mutually_exclusive_group()
    machines.add_argument(
        "--shard",
        type=_shard,
        help="i/n: every n-th variant from the i-th (one of n machines sharing OUTPUT)",
    )
    machines.add_argument(
        "--merge", action="store_true", help="train nothing: report on what the shards wrote"
    )
    bench.add_argument("-o", "--output", default="docs/study/bench")


def build_parser():
    """The whole command line; it imports neither Keras nor a backend, so ``--help`` answers at once."""
    parser = _Parser(prog="wavenet-j", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="the Keras backend to run on (default: $KERAS_BACKEND, else tensorflow); "
        "export and TF1 checkpoints need tensorflow",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also show the backend's own start-up messages (TensorFlow's native logs)",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add_command in (
        _add_models_command,
        _add_train_command,
        _add_import_original_command,
        _add_pretrained_command,
        _add_export_command,
        _add_separate_command,
        _add_evaluate_command,
        _add_plot_command,
        _add_study_command,
        _add_search_command,
        _add_bench_arch_command,
    ):
        add_command(commands)
    return parser


def _start_backend(args):
    """Choose the backend before Keras is imported; start TensorFlow (only it) quietly."""
    try:
        use_backend(args.backend or requested())
    except BackendError as error:
        sys.exit(f"wavenet-j: {'--backend' if args.backend else 'KERAS_BACKEND'}: {error}")
    start_backend(args.verbose, getattr(args, "xla", False))


def _require_tensorflow_where_needed(args):
    """Exports and TF1 checkpoints need TensorFlow: said before a model is built, not after."""
    if args.command == "export":
        require_tensorflow("exporting a SavedModel or TFLite file")
    if args.command == "import-original" or getattr(args, "original_ckpt", None):
        require_tensorflow("reading an original TF1 checkpoint")


def main(argv=None):
    args = build_parser().parse_args(argv)
    _start_backend(args)
    from tqdm import tqdm

    with warnings.catch_warnings():
        # Through tqdm, so a warning printed while a progress bar runs gets a line of its own.
        warnings.showwarning = lambda message, *_: tqdm.write(
            f"wavenet-j: warning: {message}", file=sys.stderr
        )
        try:
            _require_tensorflow_where_needed(args)
            args.run(args)
        except (argparse.ArgumentTypeError,) + _user_errors() as error:  # ArgumentTypeError: options clash
            sys.exit(f"wavenet-j {args.command}: {error}")


if __name__ == "__main__":
    main()
