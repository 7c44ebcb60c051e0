"""Readers of public model-zoo formats, converted to weightnet's on-disk zoo.

One module per format; :func:`convert_zoo` picks the reader and writes the zoo
(``weightnet zoo convert FORMAT SRC --out DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path

from weightnet.errors import WeightnetError

__all__ = ["FORMATS", "convert_zoo"]

#: Format name -> what it reads.
FORMATS = {
    "cnn-zoo": "Small CNN Zoo (Unterthiner et al. 2020): weights.npy, layout.csv, metrics.csv.gz",
    "dws-inr": "DWSNets INRs (MNIST, Fashion-MNIST): one .pth per image + splits JSON",
    "nfn-siren": "NFN SIRENs: <prefix>_<label>s/net<idx>.pth",
    "checkpoints": "a folder of state_dicts (.pt, .pth, .safetensors), optional --targets CSV",
}


def convert_zoo(
    fmt: str,
    src: str | os.PathLike,
    out: str | os.PathLike,
    *,
    splits: str | os.PathLike | None = None,
    targets: str | os.PathLike | None = None,
    no_targets: bool = False,
    prefix: str | None = None,
    split_points: tuple[int, int] | None = None,
    activation: str = "relu",
    progress: bool = True,
) -> Path:
    """Convert the public zoo ``src`` of format ``fmt`` into the zoo folder ``out``.

    Args:
        fmt: one of :data:`FORMATS`.
        src: the downloaded (extracted) folder.
        out: the zoo folder to create (must not exist).
        splits: cnn-zoo: NFN's shuffled-index CSV; dws-inr: the splits JSON.
        targets: checkpoints: CSV of per-file targets (required, unless ``no_targets``).
        no_targets: checkpoints: write an unlabeled zoo (NaN targets), e.g. for
            ``weightnet predict``; training on it is refused.
        prefix: nfn-siren: which variant (``randinit_smaller``, ...).
        split_points: nfn-siren: first val and first test network index.
        activation: checkpoints: the hidden layers' activation.
        progress: show a progress bar.

    Returns:
        ``out``.

    Raises:
        WeightnetError: unknown format, an option the format does not take, or bad input.
    """
    from weightnet.data.formats.write import write_converted

    src = Path(src)
    labels = {"targets": targets, "no_targets": no_targets or None}  # checkpoints only
    if fmt == "cnn-zoo":
        from weightnet.data.formats.cnn_zoo import read_cnn_zoo

        _refuse(fmt, **labels, prefix=prefix, split_points=split_points)
        source = read_cnn_zoo(src, splits)
    elif fmt == "dws-inr":
        from weightnet.data.formats.dws_inr import read_dws_inr

        _refuse(fmt, **labels, prefix=prefix, split_points=split_points)
        source = read_dws_inr(src, splits)
    elif fmt == "nfn-siren":
        from weightnet.data.formats.nfn_siren import SPLIT_POINTS, read_nfn_siren

        _refuse(fmt, **labels, splits=splits)
        source = read_nfn_siren(src, prefix, split_points or SPLIT_POINTS)
    elif fmt == "checkpoints":
        from weightnet.data.formats.checkpoints import read_checkpoints

        _refuse(fmt, splits=splits, prefix=prefix, split_points=split_points)
        if (targets is None) != no_targets:
            raise WeightnetError(
                f"{src}: give --targets FILE (a CSV with a file column and target columns such "
                "as test_accuracy) to train on the zoo, or --no-targets for an unlabeled zoo"
                if targets is None
                else "--targets and --no-targets exclude each other"
            )
        source = read_checkpoints(src, targets, activation)
    else:
        raise WeightnetError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return write_converted(source, out, progress=progress)


def _refuse(fmt: str, **options) -> None:
    given = [name for name, value in options.items() if value is not None]
    if given:
        flag = "--" + given[0].replace("_", "-")
        raise WeightnetError(f"{flag} does not apply to format {fmt!r}")
