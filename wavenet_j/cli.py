"""``wavenet-j``: one command, one subcommand per job."""
import argparse
import os
import sys


def _models(args):
    from wavenet_j.configs import MODEL_NAMES, ConfigError
    from wavenet_j.models.summary import models_table

    try:
        print(models_table(args.names or MODEL_NAMES))
    except ConfigError as error:
        sys.exit(f"wavenet-j models: {error}")


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the tables
    parser = argparse.ArgumentParser(prog="wavenet-j", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    models = commands.add_parser(
        "models", help="parameters (trained / frozen), lengths and receptive field of named models")
    models.add_argument("names", nargs="*", metavar="NAME",
                        help="named configs, several joined with '+' (e.g. J1+tiny); default: every paper model")
    models.set_defaults(run=_models)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
