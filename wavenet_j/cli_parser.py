"""The command line's grammar: every ``wavenet-j`` subcommand, its arguments, their defaults and help.

It imports neither Keras nor a backend, so ``wavenet-j --help`` answers at once; ``wavenet_j.cli``
runs the command ``args.command`` names.
"""

import argparse
import sys

from wavenet_j.backend import BACKENDS
from wavenet_j.separation.options import SCORING, WINDOWS, SeparationOptions


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors as one line and status 1 like every other user error."""

    def error(self, message):
        sys.exit(f"{self.prog}: {message}")


def _shard(text):
    from wavenet_j.shards import parse_shard

    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 1")
    return int(text)


_WINDOWS_HELP = (
    "context models' window grid: 'original' (the original's predict_track, scores comparable with its "
    "and the paper's) or 'shared' (several times faster, estimates slightly different); default: %(default)s"
)
_PLAN_HELP = "print every run that would train or be evaluated, what is reused, and estimated training times"


def _command(commands, name, help, example):
    return commands.add_parser(
        name,
        help=help,
        description=help,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_config_options(parser, study):
    """``--set`` (and for the studies ``--with``: named configs on top of every model)."""
    if study:
        parser.add_argument(
            "--with",
            dest="base",
            default="tiny",
            metavar="NAMES",
            help="named configs on top of every model, joined with '+' (default: tiny; '' for full size)",
        )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model_config override, read as Sacred reads it (repeatable), e.g. --set epoch_it=500",
    )


def _add_model_options(parser, several):
    """``--model``, or ``--original-ckpt`` with ``--config``: exclusive for one model, both allowed for
    several (``evaluate`` compares them)."""
    group = parser if several else parser.add_mutually_exclusive_group()
    more = " (repeatable)" if several else "; default: M5-HighSR"
    group.add_argument(
        "--model",
        action="append" if several else "store",
        default=[] if several else None,
        help=f"a released model (M4, M5-HighSR, M6: downloaded on first use) or a .keras model{more}",
    )
    group.add_argument(
        "--original-ckpt", help="an original Wave-U-Net TF1 checkpoint prefix (needs --config)"
    )
    parser.add_argument(
        "--config", help="the original checkpoint's named config (e.g. full_44KHz) or its JSON"
    )


def _add_separation_options(parser, defaults):
    parser.add_argument(
        "--stages", type=_positive, default=defaults.stages, help="progressive inference stages"
    )
    parser.add_argument("--windows", choices=WINDOWS, default=defaults.windows, help=_WINDOWS_HELP)
    parser.add_argument(
        "--bf16", action="store_true", help="compute in bfloat16 (faster where the CPU has bf16)"
    )


def _add_machines(parser, shard_help, merge_help):
    machines = parser.add_mutually_exclusive_group()
    machines.add_argument("--shard", type=_shard, help=shard_help)
    machines.add_argument("--merge", action="store_true", help=merge_help)


def _add_commands(commands):
    models = _command(
        commands,
        "models",
        "parameters (trained / frozen), lengths and receptive field of named models",
        "wavenet-j models U1 J1 M4 J1+tiny",
    )
    models.add_argument(
        "names", nargs="*", metavar="NAME", help="named configs (J1+tiny combines); default: all"
    )

    train = _command(
        commands,
        "train",
        "train a named model (as experiments/train.py with cfg.NAME)",
        "wavenet-j train J1 --set musdb_path=/data/musdb18hq --id j1",
    )
    train.add_argument(
        "names", nargs="+", metavar="NAME", help="named configs, applied in order (e.g. J1 tiny)"
    )
    _add_config_options(train, study=False)
    train.add_argument(
        "--id", help="the run folder <model_base_dir>/<id>, resumed if it exists (default: NAME+...)"
    )

    original = _command(
        commands,
        "import-original",
        "turn an original Wave-U-Net TF1 checkpoint into a .keras model",
        "wavenet-j import-original ckpts/full_44KHz-236118 --config full_44KHz -o m.keras",
    )
    original.add_argument(
        "checkpoint", help="checkpoint prefix (e.g. checkpoints/full_44KHz/full_44KHz-236118)"
    )
    original.add_argument(
        "--config", required=True, help="its named config (M4, full_44KHz, ...) or original JSON"
    )
    original.add_argument("-o", "--output", required=True, help="where to write the .keras model")

    pretrained = _command(
        commands,
        "pretrained",
        "the original Wave-U-Net's released models (M4, M5-HighSR, M6): list, install",
        "wavenet-j pretrained --from-zip ~/Downloads/models.zip",
    )
    source = pretrained.add_mutually_exclusive_group()
    source.add_argument(
        "--download", action="store_true", help="download and install them ($WAVENET_J_MODELS_URL)"
    )
    source.add_argument("--from-zip", metavar="ZIP", help="install from a copy of the original's models.zip")
    source.add_argument("--from-dir", metavar="DIR", help="install from its unzipped checkpoints/ folder")

    export = _command(
        commands,
        "export",
        "write a .keras model as a SavedModel or TFLite",
        "wavenet-j export checkpoints/j1/best.keras --format savedmodel -o j1_savedmodel",
    )
    export.add_argument("model", help="a .keras model")
    export.add_argument("--format", choices=["savedmodel", "tflite"], default="savedmodel")
    export.add_argument(
        "-o", "--output", required=True, help="the SavedModel folder or .tflite file to write"
    )

    separate = _command(
        commands,
        "separate",
        "separate songs (any format ffmpeg reads) into stems",
        "wavenet-j separate song.mp3 other.flac  (--model checkpoints/j1/best.keras for yours)",
    )
    separate.add_argument(
        "songs", nargs="+", metavar="SONG", help="audio files, any rate and channels, or folders"
    )
    _add_model_options(separate, several=False)
    _add_separation_options(separate, SeparationOptions())
    separate.add_argument("-o", "--output", default="separated", help="stems go to OUTPUT/<--filename>")
    separate.add_argument(
        "--filename",
        default="{track}/{source}.{ext}",
        help="stem names below OUTPUT from {track} (the song's file name), {parent} (its folder), {source} "
        "and {ext}; a name ending in .flac writes FLAC; default: %(default)s",
    )
    separate.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing stems (else a song whose stems all exist is skipped, one with some refused)",
    )
    separate.add_argument(
        "--encoding",
        choices=["int16", "int24", "float32"],
        help="stem samples (default: float32 for float input files, int24 in FLAC; else int16)",
    )
    separate.add_argument("--flac", action="store_true", help="write FLAC instead of WAV")
    separate.add_argument(
        "--no-xla",
        dest="xla",
        action="store_false",
        help="run without XLA (compiled by default: about 1.2x faster on CPUs, kept in ~/.cache/wavenet_j)",
    )
    separate.add_argument(
        "--clipping",
        choices=["clamp", "rescale"],
        default="clamp",
        help="integer stems beyond full scale: clamp those samples, or scale the song's stems by one factor",
    )

    evaluate = _command(
        commands,
        "evaluate",
        "score models on MUSDB's test set: museval JSON per track, the paper's SDR statistics",
        "wavenet-j evaluate --musdb /data/musdb18hq --model checkpoints/j1/best.keras",
    )
    evaluate.add_argument("--musdb", required=True, help="MUSDB18 or MUSDB18-HQ root")
    _add_model_options(evaluate, several=True)
    _add_separation_options(evaluate, SCORING)
    evaluate.add_argument("--subset", default="test", help="MUSDB subset to score: test (default) or train")
    evaluate.add_argument("--workers", type=_positive, default=1, help="tracks scored in parallel processes")
    evaluate.add_argument("--shard", type=_shard, default=(0, 1), help="i/n: every n-th track from the i-th")
    evaluate.add_argument("-o", "--output", default="results", help="results go to OUTPUT/<model>/")
    evaluate.add_argument(
        "--estimates",
        metavar="DIR",
        help="also keep the estimates, as DIR/<model>/<subset>/<track>/<source>.wav (museval's layout)",
    )

    plot = _command(
        commands,
        "plot",
        "violin plots of segment SDRs; spectrograms of a mix and stems",
        "wavenet-j plot results -o figures --spectrogram song.wav separated/song/vocals.wav",
    )
    plot.add_argument("results", nargs="*", metavar="RESULTS", help="a results folder, or a folder of them")
    plot.add_argument("--subset", default="test")
    plot.add_argument(
        "--spectrogram", nargs="+", default=[], metavar="AUDIO", help="a mix, then stems, stacked"
    )
    plot.add_argument(
        "-o", "--output", default="figures", help="writes sdr_violins and spectrogram .png/.svg there"
    )

    study = _command(
        commands,
        "study",
        "train and evaluate (U, J) pairs; the paper's figures, tables and correlations",
        'wavenet-j study --with "" --set musdb_path=/data/musdb18hq -o results/study',
    )
    _add_config_options(study, study=True)
    study.add_argument("--pairs", nargs="+", metavar="U/J", help="default: every pair the paper names")
    study.add_argument("--no-tables", action="store_true", help="skip Tables 1-3 (their extra models)")
    study.add_argument("--study-id", default="study", help="runs are <model_base_dir>/<study-id>-<model>")
    study.add_argument("--windows", choices=WINDOWS, default=SCORING.windows, help=_WINDOWS_HELP)
    study.add_argument("--plan", action="store_true", help=_PLAN_HELP + "; train nothing")
    _add_machines(
        study,
        "i/n: every n-th model from the i-th (one of n machines sharing OUTPUT)",
        "train nothing: draw the figures and tables from what the shards wrote",
    )
    study.add_argument("-o", "--output", default="docs/study")

    search = _command(
        commands,
        "search",
        "rank U variants by their J twins or a proxy; train the best",
        "wavenet-j search U2_2_5 U3_10 --top-k 1 --with tiny -o search",
    )
    search.add_argument("candidates", nargs="+", metavar="U_MODEL")
    _add_config_options(search, study=True)
    search.add_argument(
        "--proxy",
        default="J",
        help="J: the J twins' validation loss (trains them, then the top k as U); or a training-free proxy "
        "(trains nothing): grad_norm, snip, grasp, fisher, synflow, jacob_cov, naswot, params, flops, vote",
    )
    search.add_argument("--top-k", type=_positive, default=2, help="U models trained after ranking by J")
    search.add_argument("--plan", action="store_true", help=_PLAN_HELP + "; train nothing")
    search.add_argument("-o", "--output", default="search")

    bench = _command(
        commands,
        "bench-arch",
        "train sampled variants of U1 as U, J and L and score every proxy by rank correlation",
        "wavenet-j bench-arch -n 24 --with tiny -o docs/study/bench",
    )
    bench.add_argument("-n", "--count", type=_positive, default=24, help="variants (U1 is the first)")
    bench.add_argument("--seed", type=int, default=0, help="of the sampler: another seed, other variants")
    _add_config_options(bench, study=True)
    bench.add_argument("--study-id", default="bench", help="runs are <model_base_dir>/<study-id>-<kind>-v<i>")
    bench.add_argument("--plan", action="store_true", help=_PLAN_HELP + " (runs still to train)")
    _add_machines(
        bench,
        "i/n: every n-th variant from the i-th (one of n machines sharing OUTPUT)",
        "train nothing: report on what the shards wrote",
    )
    bench.add_argument("-o", "--output", default="docs/study/bench")


def build_parser():
    """The whole command line; it imports neither Keras nor a backend, so ``--help`` answers at once."""
    parser = _Parser(prog="wavenet-j", description="wavenet-j: one command, one subcommand per job.")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="the Keras backend (default: $KERAS_BACKEND, else tensorflow); export and TF1 need tensorflow",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also show the backend's own start-up messages"
    )
    _add_commands(parser.add_subparsers(dest="command", required=True, parser_class=_Parser))
    return parser
