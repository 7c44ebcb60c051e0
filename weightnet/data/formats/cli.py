"""``weightnet zoo convert``: turn a downloaded public zoo into weightnet's on-disk zoo.

Attached to the ``weightnet zoo`` command group by :func:`register_convert`;
imports only argparse at module level.
"""

from __future__ import annotations

import argparse

__all__ = ["register_convert"]

_EPILOG = """formats:
  cnn-zoo      Small CNN Zoo (Unterthiner et al. 2020); --splits: NFN's split CSV
  dws-inr      DWSNets MNIST / Fashion-MNIST INRs; --splits: the splits JSON (default: *splits*.json
               inside SRC or beside it)
  nfn-siren    NFN SIREN INRs; --prefix, --split-points
  checkpoints  a folder of .pt/.pth/.safetensors state_dicts; --targets (or --no-targets),
               --activation
"""


def register_convert(zoo_subparsers: argparse._SubParsersAction) -> None:
    """Add ``convert`` to the ``weightnet zoo`` subcommands."""
    parser = zoo_subparsers.add_parser(
        "convert",
        help="convert a public model zoo (cnn-zoo, dws-inr, nfn-siren, checkpoints)",
        description="Convert a downloaded public model zoo into a weightnet zoo folder "
        "(weights.npy, layout.csv, metrics.csv, zoo.json). See data/README.md.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("format", metavar="FORMAT", help="cnn-zoo, dws-inr, nfn-siren, checkpoints")
    parser.add_argument("src", metavar="SRC", help="the downloaded (extracted) folder")
    parser.add_argument("--out", required=True, metavar="DIR", help="zoo folder to create")
    parser.add_argument("--splits", metavar="FILE", help="split file (cnn-zoo, dws-inr)")
    parser.add_argument(
        "--targets",
        metavar="FILE",
        help="checkpoints: CSV of per-file targets (a file column, then e.g. test_accuracy)",
    )
    parser.add_argument(
        "--no-targets",
        action="store_true",
        help="checkpoints: write an unlabeled zoo (NaN targets: for predict, not for training)",
    )
    parser.add_argument("--prefix", help="nfn-siren: variant to convert, e.g. randinit_smaller")
    parser.add_argument(
        "--split-points",
        metavar="VAL,TEST",
        help="nfn-siren: first val and first test index (default 45000,50000)",
    )
    parser.add_argument(
        "--activation", default=None, help="checkpoints: hidden activation (default relu)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from weightnet.data.formats import convert_zoo
    from weightnet.errors import WeightnetError

    split_points = None
    if args.split_points is not None:
        try:
            val, test = (int(v) for v in args.split_points.split(","))
        except ValueError:
            raise WeightnetError(
                f"--split-points {args.split_points!r}: give two integers VAL,TEST"
            ) from None
        split_points = (val, test)
    if args.activation is not None and args.format != "checkpoints":
        raise WeightnetError(f"--activation does not apply to format {args.format!r}")
    out = convert_zoo(
        args.format,
        args.src,
        args.out,
        splits=args.splits,
        targets=args.targets,
        no_targets=args.no_targets,
        prefix=args.prefix,
        split_points=split_points,
        activation=args.activation or "relu",
        progress=not args.no_progress,
    )
    print(f"wrote {out}")
    return 0
