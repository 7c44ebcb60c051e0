"""Any folder of state_dicts (``.pt``, ``.pth``, ``.safetensors``), one network per file.

The architecture is read off the first file (in sorted path order); every other
file must have the same keys and shapes. An optional CSV of targets has a ``file``
column (the path below the folder, or just the file name) and numeric columns that
become ``metrics.csv`` columns (e.g. ``test_accuracy``). A zoo of classifiers (MLPs,
CNNs) always has the columns of :data:`~weightnet.data.zoo.CLASSIFIER_COLUMNS`; those
the targets do not give are written as NaN (unknown).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from weightnet.data.formats.source import ConvertedSource
from weightnet.data.formats.state_dicts import files_source, spec_of_file
from weightnet.data.zoo import CLASSIFIER_COLUMNS
from weightnet.errors import WeightnetError
from weightnet.io import STATE_DICT_SUFFIXES

__all__ = ["read_checkpoints"]


def read_checkpoints(
    src: str | Path, targets: str | Path | None = None, activation: str = "relu"
) -> ConvertedSource:
    """Describe a folder of state_dicts as a streamed :class:`ConvertedSource`.

    Args:
        src: the folder (searched recursively).
        targets: CSV with a ``file`` column and numeric target columns.
        activation: the hidden layers' activation (state_dicts do not record it).

    Raises:
        WeightnetError: on a missing folder, no state_dicts, a file whose architecture
            differs from the first one, or a targets file that does not match the files.
    """
    src = Path(src)
    if not src.is_dir():
        raise WeightnetError(f"{src}: no such folder")
    paths = sorted(
        p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in STATE_DICT_SUFFIXES
    )
    if not paths:
        raise WeightnetError(f"{src}: no state_dict files (.pt, .pth, .safetensors)")
    spec = spec_of_file(paths[0], activation)
    names = [p.relative_to(src).as_posix() for p in paths]
    target_columns, values = _read_targets(Path(targets), names) if targets else ([], {})
    if spec.kind in ("mlp", "cnn"):  # a classifier zoo has these columns: unknown ones are NaN
        unknown = [c for c in CLASSIFIER_COLUMNS if c != "model_id" and c not in target_columns]
        target_columns += unknown
        values = {name: [*values.get(name, ()), *[math.nan] * len(unknown)] for name in names}
    return files_source(
        paths,
        spec,
        ["run_id", "file", *target_columns],
        [[i, name, *values.get(name, ())] for i, name in enumerate(names)],
        recipe="convert:checkpoints",
        activation=activation,
        dataset={"name": "unknown"},
        source={
            "format": "checkpoints",
            "path": str(src.resolve()),
            "targets": str(Path(targets).resolve()) if targets else None,
        },
    )


def _read_targets(path: Path, names: list[str]) -> tuple[list[str], dict[str, list[float]]]:
    """Target columns and, for every file of ``names``, its values."""
    if not path.is_file():
        raise WeightnetError(f"{path}: no such file")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h for h in (reader.fieldnames or []) if h != "file"]
        if "file" not in (reader.fieldnames or []) or not header:
            raise WeightnetError(f"{path}: needs a 'file' column and at least one target column")
        reserved = sorted({"model_id", "run_id"} & set(header))
        if reserved:
            raise WeightnetError(f"{path}: column {reserved[0]!r} is reserved for the zoo")
        known = set(names)
        by_base: dict[str, list[str]] = {}
        for name in names:
            by_base.setdefault(name.rsplit("/", 1)[-1], []).append(name)
        values: dict[str, list[float]] = {}
        for line, row in enumerate(reader, start=2):
            key = row["file"].strip()
            name = key if key in known else None
            if name is None and len(by_base.get(key, [])) == 1:
                name = by_base[key][0]
            if name is None:
                raise WeightnetError(
                    f"{path}: line {line}: {key!r} names no single state_dict file"
                )
            if name in values:
                raise WeightnetError(f"{path}: line {line}: a second row for {key!r}")
            try:
                values[name] = [float(row[c]) for c in header]
            except (TypeError, ValueError):
                raise WeightnetError(f"{path}: line {line}: a target is not a number") from None
            if not all(math.isfinite(v) for v in values[name]):
                raise WeightnetError(f"{path}: line {line}: NaN or Inf target")
    missing = [n for n in names if n not in values]
    if missing:
        raise WeightnetError(
            f"{path}: no targets for {missing[0]} ({len(missing)} files lack them)"
        )
    return header, values
