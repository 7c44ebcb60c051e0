"""The ``weightnet`` command.

Each subcommand lives in its own module exposing ``register(subparsers)``; those
modules import only argparse at module level so that ``weightnet --help`` and
``weightnet predict`` start fast. Any :class:`~weightnet.errors.WeightnetError`
(bad user input) ends as one line on stderr and exit code 2; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "COMMAND_MODULES"]

#: Modules that add subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = ("weightnet.zoo.cli", "weightnet.align.cli", "weightnet.predict_cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="weightnet",
        description="Learning on neural-network weights: make and read model zoos, "
        "run pretrained metanets, align networks.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``weightnet`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from weightnet.errors import WeightnetError

    try:
        return int(args.func(args) or 0)
    except (WeightnetError, FileNotFoundError, PermissionError, IsADirectoryError) as err:
        if args.debug:
            raise
        print(f"weightnet: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("weightnet: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
