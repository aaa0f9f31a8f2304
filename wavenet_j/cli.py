"""``wavenet-j``: one command, one subcommand per job; it parses arguments, calls the library, prints.

A user error (a bad option, a missing file, an unknown config key) ends with one line,
``wavenet-j <command>: <what is wrong>``, and exit status 1; a traceback means a bug.
"""

import argparse
import dataclasses
import json
import os
import sys
import warnings

from wavenet_j.backend import BackendError, require_tensorflow, requested, use_backend
from wavenet_j.cli_parser import build_parser
from wavenet_j.startup import start_backend


def _user_errors():
    """The exceptions that report bad input (each names what is wrong), as opposed to bugs."""
    from wavenet_j.audio import AudioError
    from wavenet_j.configs import ConfigError
    from wavenet_j.data.tracks import DataError
    from wavenet_j.evaluation.musdb import EvaluationError
    from wavenet_j.interop import CheckpointMismatch
    from wavenet_j.studies import StudyError
    from wavenet_j.training import TrainingError

    errors = (AudioError, ConfigError, DataError, EvaluationError, CheckpointMismatch, StudyError)
    return errors + (BackendError, TrainingError, OSError)


def _models(args):
    """``[(name, path, ModelConfig or None)]`` from ``--model`` and ``--original-ckpt``/``--config``."""
    from wavenet_j.evaluation.musdb import result_name
    from wavenet_j.interop import checkpoint_config

    if bool(args.original_ckpt) != bool(args.config):
        raise argparse.ArgumentTypeError(
            "--original-ckpt needs --config (the checkpoint's named config, or its JSON)"
            if args.original_ckpt
            else "--config goes with --original-ckpt: a .keras model carries its own config"
        )
    paths = args.model if isinstance(args.model, list) else [args.model] if args.model else []
    models = [(result_name(path), path, None) for path in paths]
    if args.original_ckpt:
        name = f"original-{result_name(args.original_ckpt)}"
        models.append((name, args.original_ckpt, checkpoint_config(args.config)))
    return models


def _separation(args):
    """The ``SeparationOptions`` of the flags ``separate`` and ``evaluate`` share."""
    from wavenet_j.separation import SeparationOptions

    precision = "mixed_bfloat16" if args.bf16 else None
    jit = getattr(args, "xla", False)
    return SeparationOptions(stages=args.stages, windows=args.windows, precision=precision, jit_compile=jit)


class _DownloadBar:
    """``progress(done, total)`` as a bar in bytes from a download's first bytes, closed however the
    download ends."""

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


def _list_models(args):
    from wavenet_j.configs import MODEL_NAMES
    from wavenet_j.models.summary import models_table

    print(models_table(args.names or MODEL_NAMES))


def _train(args):
    from wavenet_j.configs import parse_overrides, resolve_config
    from wavenet_j.training import train

    result = train(resolve_config(args.names, parse_overrides(args.set)), args.id or "+".join(args.names))
    print(f"best model: {result['best_model']}\nTensorBoard: tensorboard --logdir {result['log_dir']}")


def _pretrained(args):
    from wavenet_j.interop import pretrained

    if args.from_zip:
        pretrained.install_from_zip(args.from_zip)
    elif args.from_dir:
        pretrained.install_from_dir(args.from_dir)
    elif args.download:
        with _DownloadBar() as bar:
            pretrained.released_model(pretrained.DEFAULT, bar)  # installs all three, loads none
    print(pretrained.released_table())


def _import_original(args):
    from wavenet_j.atomic import atomic_path
    from wavenet_j.interop import checkpoint_config

    model = _load(args.checkpoint, checkpoint_config(args.config))
    with atomic_path(args.output) as temporary:
        model.save(temporary)
    print(f"wrote {args.output}")


def _export(args):
    from wavenet_j.interop import export_model

    export_model(_load(args.model), args.output, args.format)
    print(f"wrote {args.output}")


def _separate(args):
    from tqdm import tqdm

    from wavenet_j.audio import AudioError, audio_files
    from wavenet_j.interop.pretrained import DEFAULT
    from wavenet_j.separation import needs_separating, stem_plan

    ((_, path, config),) = _models(args) or [(DEFAULT, DEFAULT, None)]
    songs, options = audio_files(args.songs), _separation(args)
    model = _load(path, config)
    ext = "flac" if args.flac else None
    try:
        stems = stem_plan(
            songs, args.output, model.output, template=args.filename, ext=ext, encoding=args.encoding
        )
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error
    failed = []
    for number, song in enumerate(songs, 1):
        try:
            if not needs_separating(song, stems[song], args.overwrite):
                tqdm.write(f"{song}: its stems exist, skipped (--overwrite separates it again)")
                continue
            _separate_song(model, song, f"song {number}/{len(songs)}", args, ext, options)
        except AudioError as error:
            failed.append(song)
            tqdm.write(f"wavenet-j separate: {error}", file=sys.stderr)
            continue
        tqdm.write(f"{song} -> {', '.join(stems[song].values())}")
    if failed:
        sys.exit(
            f"wavenet-j separate: {len(failed)} of {len(songs)} songs failed: {', '.join(map(repr, failed))}"
        )


def _separate_song(model, song, label, args, ext, options):
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
            ext=ext,
            encoding=args.encoding,
            clipping=args.clipping,
            progress=progress,
            options=options,
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
                config=config,
                subset=args.subset,
                options=_separation(args),
                shard=args.shard,
                workers=args.workers,
                progress=lambda _: bar.update(),
                estimates_dir=estimates,
            )
    print(write_comparison(args.output, args.subset))


def _plot(args):
    from wavenet_j.evaluation.musdb import scored_models
    from wavenet_j.evaluation.plots import file_spectrograms, sdr_violins

    if not args.results and not args.spectrogram:
        raise argparse.ArgumentTypeError("give result folders and/or --spectrogram MIX STEM ...")
    written = []
    if args.results:
        written += sdr_violins(
            scored_models(args.results, args.subset), os.path.join(args.output, "sdr_violins")
        )
    if args.spectrogram:
        written += file_spectrograms(args.spectrogram, os.path.join(args.output, "spectrogram"))
    print("\n".join(f"wrote {path}" for path in written))


def _study_options(args):
    """What ``study``, ``search`` and ``bench-arch`` change in every model: ``--with`` and ``--set``."""
    from wavenet_j.configs import parse_overrides, split_names

    return dict(base=split_names(args.base), overrides=parse_overrides(args.set))


def _study(args):
    from wavenet_j.separation import SCORING
    from wavenet_j.studies import plan_study, run_study
    from wavenet_j.studies.report import plan_markdown

    options = dict(_study_options(args), tables=not args.no_tables, study_id=args.study_id)
    if args.pairs:
        options["pairs"] = [tuple(pair.split("/")) for pair in args.pairs]
    if args.plan:
        print(plan_markdown(plan_study(args.output, shard=args.shard, **options)))
        return
    separation = dataclasses.replace(SCORING, windows=args.windows)
    report = run_study(args.output, separation=separation, shard=args.shard, merge=args.merge, **options)
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
    from wavenet_j.studies import plan_search, rank_by_proxy, search
    from wavenet_j.studies.report import plan_markdown

    options = _study_options(args)
    if args.proxy != "J":
        print(json.dumps(rank_by_proxy(args.candidates, args.proxy, **options), indent=1))
    elif args.plan:
        print(plan_markdown(plan_search(args.candidates, args.output, **options)))
        print(f"(the U models train only if among the top {args.top_k})")
    else:
        print(json.dumps(search(args.candidates, args.output, top_k=args.top_k, **options), indent=1))


def _bench_arch(args):
    from wavenet_j.studies import plan_bench, run_bench
    from wavenet_j.studies.report import plan_markdown

    options = dict(_study_options(args), count=args.count, seed=args.seed, study_id=args.study_id)
    if args.plan:
        print(plan_markdown(plan_bench(args.output, shard=args.shard, **options)))
        return
    report = run_bench(args.output, shard=args.shard, merge=args.merge, **options)
    _print_report(args, report, report["variants"], "the report")


_RUNS = {
    "models": _list_models,
    "train": _train,
    "import-original": _import_original,
    "pretrained": _pretrained,
    "export": _export,
    "separate": _separate,
    "evaluate": _evaluate,
    "plot": _plot,
    "study": _study,
    "search": _search,
    "bench-arch": _bench_arch,
}


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
            _RUNS[args.command](args)
        except (argparse.ArgumentTypeError,) + _user_errors() as error:  # ArgumentTypeError: options clash
            sys.exit(f"wavenet-j {args.command}: {error}")


if __name__ == "__main__":
    main()
