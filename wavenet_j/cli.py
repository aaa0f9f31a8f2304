"""``wavenet-j``: one command, one subcommand per job."""
import argparse
import json
import os
import sys
import warnings


def _models(args):
    from wavenet_j.configs import MODEL_NAMES, ConfigError
    from wavenet_j.models.summary import models_table

    try:
        print(models_table(args.names or MODEL_NAMES))
    except ConfigError as error:
        sys.exit(f"wavenet-j models: {error}")


def _load_config(spec):
    """A named config (``M5``, ``J1+tiny``) or a JSON file holding one of the original's model_config dicts."""
    from wavenet_j.configs import resolve_config
    from wavenet_j.interop import from_original_config

    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as handle:
            return from_original_config(json.load(handle))
    return resolve_config(spec.split("+"))


def _import_original(args):
    from wavenet_j.atomic import atomic_path
    from wavenet_j.interop import load_separator

    try:
        model, _ = load_separator(args.checkpoint, _load_config(args.config))
    except (OSError, ValueError) as error:
        sys.exit(f"wavenet-j import-original: {error}")
    with atomic_path(args.out) as temporary:
        model.save(temporary)
    print(f"wrote {args.out}")


def _separator(args):
    """``(model, model_config)`` from ``--model PATH.keras`` or ``--original-ckpt CKPT --config NAME``."""
    from wavenet_j.interop import load_separator

    if args.original_ckpt and not args.config:
        sys.exit("wavenet-j: --original-ckpt needs --config (the checkpoint's named config, or its JSON)")
    path = args.original_ckpt or args.model
    if not path:
        sys.exit("wavenet-j: give --model PATH.keras or --original-ckpt CKPT --config NAME")
    try:
        return load_separator(path, _load_config(args.config) if args.original_ckpt else None)
    except (OSError, ValueError) as error:
        sys.exit(f"wavenet-j: {error}")


def _model_name(path):
    """A column name: the file's stem, or its folder's name for a run's ``best.keras``."""
    stem = os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
    return os.path.basename(os.path.dirname(os.path.abspath(path))) if stem == "best" else stem


def _evaluate(args):
    from tqdm import tqdm

    from wavenet_j.atomic import write_text
    from wavenet_j.evaluation.musdb import evaluate_model
    from wavenet_j.evaluation.statistics import markdown_table

    index, count = (int(part) for part in args.shard.split("/"))
    models = [(_model_name(path), path, None) for path in args.model]
    if args.original_ckpt:
        if not args.config:
            sys.exit("wavenet-j evaluate: --original-ckpt needs --config")
        models.append((f"original-{_model_name(args.original_ckpt)}", args.original_ckpt, _load_config(args.config)))
    if not models:
        sys.exit("wavenet-j evaluate: give --model PATH.keras (repeatable) and/or --original-ckpt CKPT --config NAME")
    separation = {"stages": args.stages, "windows": args.windows}
    columns = {}
    for name, path, config in models:
        with tqdm(desc=f"evaluating {name}", unit="track") as bar:
            columns.update(evaluate_model(path, os.path.join(args.output, name), args.musdb, config, args.subset,
                                          separation, (index, count), args.workers, progress=lambda _: bar.update()))
    table = markdown_table(columns)
    write_text(os.path.join(args.output, "comparison.md"), table)
    print(table)


def _separate(args):
    from tqdm import tqdm

    from wavenet_j.audio import AudioError
    from wavenet_j.separation import separate_file

    model, config = _separator(args)
    for song in tqdm(args.songs, desc="separating", unit="song"):
        folder = os.path.join(args.output, os.path.splitext(os.path.basename(song))[0])
        try:
            separate_file(model, song, folder, config, stages=args.stages, windows=args.windows,
                          precision="mixed_bfloat16" if args.bf16 else None)
        except AudioError as error:
            sys.exit(f"wavenet-j separate: {error}")
        tqdm.write(f"{song} -> {folder}/")


def _study(args):
    from wavenet_j.studies import run_study

    pairs = [tuple(pair.split("/")) for pair in args.pairs] if args.pairs else None
    if pairs and any(len(pair) != 2 for pair in pairs):
        sys.exit(f"wavenet-j study: pairs are written U/J, e.g. U1/J1; got {args.pairs}")
    kwargs = {"pairs": pairs} if pairs else {}
    report = run_study(args.output, base=args.config.split("+") if args.config else [], tables=not args.no_tables,
                       study_id=args.study_id, windows=args.windows, **kwargs)
    with open(os.path.join(args.output, "report.md"), encoding="utf-8") as handle:
        print(handle.read())
    if report["gaps"]:
        sys.exit(f"wavenet-j study: gaps in the results: {sorted(report['gaps'])}")


def _search(args):
    from wavenet_j.studies import search

    result = search(args.candidates, args.output, base=args.config.split("+") if args.config else [],
                    top_k=args.top_k)
    print(json.dumps(result, indent=1))


def _export(args):
    from wavenet_j.interop import export_model, load_separator

    try:
        model, _ = load_separator(args.model)
    except (OSError, ValueError) as error:
        sys.exit(f"wavenet-j export: {error}")
    export_model(model, args.out, args.format)
    print(f"wrote {args.out}")


def _windows_option(parser, default):
    parser.add_argument("--windows", choices=["original", "shared"], default=default,
                        help="context models' window grid: 'original' (the original's predict_track, scores "
                             "comparable with its and the paper's) or 'shared' (several times faster, estimates "
                             f"slightly different); default: {default}")


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the tables
    warnings.formatwarning = lambda message, *_: f"wavenet-j: warning: {message}\n"
    parser = argparse.ArgumentParser(prog="wavenet-j", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    models = commands.add_parser(
        "models", help="parameters (trained / frozen), lengths and receptive field of named models")
    models.add_argument("names", nargs="*", metavar="NAME",
                        help="named configs, several joined with '+' (e.g. J1+tiny); default: every paper model")
    models.set_defaults(run=_models)
    original = commands.add_parser(
        "import-original", help="turn an original Wave-U-Net TF1 checkpoint into a .keras model")
    original.add_argument("checkpoint", help="checkpoint prefix (e.g. checkpoints/full_44KHz/full_44KHz-236118), "
                                             "or its .index file")
    original.add_argument("--config", required=True,
                          help="the checkpoint's config: a named config (M4, full_44KHz, ...) or a JSON file "
                               "of the original's model_config dict")
    original.add_argument("--out", required=True, help="where to write the .keras model")
    original.set_defaults(run=_import_original)
    export = commands.add_parser("export", help="write a .keras model as a SavedModel (serves without wavenet_j) or TFLite")
    export.add_argument("model", help="a .keras model")
    export.add_argument("--format", choices=["savedmodel", "tflite"], default="savedmodel")
    export.add_argument("--out", required=True, help="the SavedModel folder or .tflite file to write")
    export.set_defaults(run=_export)
    separate = commands.add_parser("separate", help="separate songs (any format ffmpeg reads) into stems")
    separate.add_argument("songs", nargs="+", metavar="SONG")
    separate.add_argument("--model", help="a .keras model (e.g. checkpoints/<id>/best.keras)")
    separate.add_argument("--original-ckpt", help="an original Wave-U-Net TF1 checkpoint prefix (needs --config)")
    separate.add_argument("--config", help="named config or original JSON, for --original-ckpt")
    separate.add_argument("-o", "--output", default="separated", help="stems go to OUTPUT/<song name>/<source>.wav")
    separate.add_argument("--stages", type=int, default=1, help="progressive inference stages (context-free models)")
    separate.add_argument("--bf16", action="store_true",
                          help="compute in bfloat16: about 2x faster where the processor has bf16 arithmetic")
    _windows_option(separate, "shared")
    separate.set_defaults(run=_separate)
    evaluate = commands.add_parser("evaluate", help="score models on MUSDB's test set: museval JSON per track, "
                                                    "the paper's SDR statistics")
    evaluate.add_argument("--musdb", required=True, help="MUSDB18 or MUSDB18-HQ root")
    evaluate.add_argument("--model", action="append", default=[], help="a .keras model (repeatable)")
    evaluate.add_argument("--original-ckpt", help="also score an original Wave-U-Net TF1 checkpoint (needs --config)")
    evaluate.add_argument("--config", help="the original checkpoint's named config or JSON")
    evaluate.add_argument("--subset", default="test")
    evaluate.add_argument("--stages", type=int, default=1)
    _windows_option(evaluate, "original")
    evaluate.add_argument("--workers", type=int, default=1, help="tracks scored in parallel processes")
    evaluate.add_argument("--shard", default="0/1", help="i/n: every n-th track from the i-th (several machines)")
    evaluate.add_argument("-o", "--output", default="results", help="results go to OUTPUT/<model>/")
    evaluate.set_defaults(run=_evaluate)
    study = commands.add_parser("study", help="train and evaluate (U, J) pairs; the paper's figures, tables and "
                                              "correlations")
    study.add_argument("--config", default="tiny", help="named configs added to every model ('' for full size)")
    study.add_argument("--pairs", nargs="+", metavar="U/J", help="default: every pair the paper names")
    study.add_argument("--no-tables", action="store_true", help="skip Tables 1-3 (their extra models)")
    study.add_argument("--study-id", default="study", help="runs are <model_base_dir>/<study-id>-<model>")
    _windows_option(study, "original")
    study.add_argument("-o", "--output", default="docs/study")
    study.set_defaults(run=_study)
    search = commands.add_parser("search", help="rank U variants by their J twins, train only the best as U")
    search.add_argument("candidates", nargs="+", metavar="U_MODEL")
    search.add_argument("--config", default="tiny")
    search.add_argument("--top-k", type=int, default=2)
    search.add_argument("-o", "--output", default="search")
    search.set_defaults(run=_search)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
