"""Open zoos in weightnet's on-disk format (DESIGN.md 5.4), with clear errors.

A zoo folder holds ``weights.npy`` (N x P float32, read row by row, never whole),
``layout.csv``, ``metrics.csv`` (one row per model) and ``zoo.json``. A
heterogeneous zoo is a folder whose subfolders are zoos (one per architecture).
Every inconsistency is reported as one line naming the file and the problem.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from weightnet.data.npy import NpyRows
from weightnet.errors import WeightnetError
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec, read_layout_csv

__all__ = ["ZOO_FILES", "CLASSIFIER_COLUMNS", "Zoo", "ZooError", "open_zoo", "open_zoos"]

#: The files of a zoo folder.
ZOO_FILES = ("weights.npy", "layout.csv", "metrics.csv", "zoo.json")
#: ``metrics.csv`` columns every zoo of classifiers (kind ``mlp`` or ``cnn``) has.
CLASSIFIER_COLUMNS = (
    "model_id",
    "test_accuracy",
    "test_loss",
    "train_accuracy",
    "train_loss",
    "step",
)


#: ``metrics.csv`` columns that number the rows and runs (never a target).
_ID_COLUMNS = ("model_id", "run_id")


class ZooError(WeightnetError):
    """A zoo folder that is missing, truncated or inconsistent."""


class Zoo:
    """One zoo folder: the networks of one architecture.

    Attributes:
        path: the folder.
        meta: ``zoo.json``.
        spec: the architecture (``WeightSpec.from_dict(meta["architecture"])``); when the
            zoo mixes activations (``config.activation``), its hidden layers carry the
            first of ``meta["architecture"]["activation"]``: see :attr:`activations`.
        weights: ``(N, P)`` float32 rows, read from disk on indexing (:class:`NpyRows`).
        metrics: ``metrics.csv`` columns: integers as int64, other numbers as float64,
            anything else as str.
    """

    def __init__(
        self, path: Path, meta: dict, spec: WeightSpec, weights: NpyRows, metrics: dict
    ) -> None:
        self.path, self.meta, self.spec, self.weights, self.metrics = (
            path,
            meta,
            spec,
            weights,
            metrics,
        )

    def __len__(self) -> int:
        return self.weights.shape[0]

    def __repr__(self) -> str:
        return f"Zoo({str(self.path)!r}, {len(self)} models, {self.spec.describe()})"

    @property
    def activations(self) -> np.ndarray:
        """``(N,)`` hidden-layer activation of every model (``config.activation`` if present)."""
        if "config.activation" in self.metrics:
            return self.metrics["config.activation"]
        return np.full(len(self), self.spec.activations[0])

    def target_values(self, name: str, rows: np.ndarray) -> np.ndarray:
        """The ``metrics.csv`` column ``name`` at ``rows``, as float32: what a metanet learns.

        Raises:
            ZooError: the column is missing, not numeric, or NaN / Inf at some of ``rows``
                (one line naming the zoo's ``metrics.csv`` and its numeric columns).
        """
        path = self.path / "metrics.csv"
        numeric = [
            c for c, v in self.metrics.items() if v.dtype.kind in "iuf" and c not in _ID_COLUMNS
        ]
        columns = f"its numeric columns: {', '.join(numeric) or 'none'}"
        if name not in self.metrics:
            raise ZooError(f"{path}: no column {name!r} (data.target); {columns}")
        values = self.metrics[name]
        if values.dtype.kind not in "iuf":
            raise ZooError(f"{path}: column {name!r} (data.target) is not numeric; {columns}")
        values = np.asarray(values, dtype=np.float32)
        if not np.isfinite(values[rows]).all():
            bad = int((~np.isfinite(values)).sum())
            raise ZooError(
                f"{path}: column {name!r} (data.target) is NaN or Inf for {bad} of the zoo's "
                f"{len(values)} networks (a zoo converted without targets?); {columns}"
            )
        return values[rows]

    def weightspace(self, indices) -> WeightSpace:
        """The rows ``indices`` (an int, a slice or an index array) as a float32 ``WeightSpace`` (C=1)."""
        rows = np.asarray(self.weights[np.atleast_1d(indices) if np.isscalar(indices) else indices])
        return WeightSpace.from_flat(
            self.spec, torch.from_numpy(np.ascontiguousarray(rows, np.float32))
        )

    @cached_property
    def nonfinite_rows(self) -> np.ndarray:
        """Indices of the rows holding NaN or Inf (scanned in chunks)."""
        step = max(1, (1 << 24) // max(1, self.weights.shape[1]))
        bad = [
            start + np.flatnonzero(~np.isfinite(self.weights[start : start + step]).all(axis=1))
            for start in range(0, len(self), step)
        ]
        return np.concatenate(bad) if bad else np.zeros(0, dtype=np.int64)


def open_zoo(path: str | os.PathLike, verify_checksum: bool = False) -> Zoo:
    """Open and validate one zoo folder.

    Args:
        path: the folder.
        verify_checksum: also compare the sha256 of ``weights.npy`` with ``zoo.json``
            (reads the whole file).

    Raises:
        ZooError: a missing file, a truncated ``weights.npy``, row or parameter counts that
            disagree between the files, missing ``metrics.csv`` columns, or a bad checksum.
    """
    path = Path(path)
    if not path.is_dir():
        raise ZooError(f"{path}: no such zoo folder")
    for name in ZOO_FILES:
        if not (path / name).is_file():
            raise ZooError(f"{path / name}: missing (a zoo folder holds {', '.join(ZOO_FILES)})")
    meta = _read_meta(path / "zoo.json")
    spec = _read_spec(path, meta)
    weights = _read_weights(path / "weights.npy", spec.num_params)
    metrics = _read_metrics(path / "metrics.csv", spec.kind)
    num_rows = len(next(iter(metrics.values())))
    if num_rows != weights.shape[0]:
        raise ZooError(
            f"{path / 'metrics.csv'}: {num_rows} rows but weights.npy has {weights.shape[0]}"
        )
    runs = meta.get("num_models")
    if not isinstance(runs, int) or not 1 <= runs <= weights.shape[0]:
        raise ZooError(
            f"{path / 'zoo.json'}: num_models {runs!r} does not fit weights.npy's {weights.shape[0]} rows"
        )
    if "run_id" in metrics and len(np.unique(metrics["run_id"])) != runs:
        raise ZooError(
            f"{path / 'metrics.csv'}: {len(np.unique(metrics['run_id']))} distinct run_id, "
            f"zoo.json says num_models {runs}"
        )
    if verify_checksum:
        from weightnet.zoo.writer import sha256_file

        if sha256_file(path / "weights.npy") != meta.get("weights_sha256"):
            raise ZooError(
                f"{path / 'weights.npy'}: sha256 does not match zoo.json (corrupted or edited)"
            )
    return Zoo(path, meta, spec, weights, metrics)


def open_zoos(
    path_or_paths: str | os.PathLike | Sequence[str | os.PathLike], verify_checksum: bool = False
) -> list[Zoo]:
    """Open a zoo folder, a folder of zoo folders (a heterogeneous zoo), or a list of either.

    Returns:
        The zoos, subfolders in sorted order.
    """
    if isinstance(path_or_paths, (str, os.PathLike)):
        path_or_paths = [path_or_paths]
    zoos = []
    for item in path_or_paths:
        path = Path(item)
        if (path / "zoo.json").is_file() or not path.is_dir():
            zoos.append(open_zoo(path, verify_checksum))
            continue
        children = sorted(p for p in path.iterdir() if p.is_dir() and (p / "zoo.json").is_file())
        if not children:
            raise ZooError(
                f"{path}: neither a zoo folder (no zoo.json) nor a folder of zoo folders"
            )
        zoos.extend(open_zoo(child, verify_checksum) for child in children)
    if not zoos:
        raise ZooError("no zoo folder given")
    return zoos


def _read_meta(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ZooError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(meta, dict):
        raise ZooError(f"{path}: expected a JSON object")
    if meta.get("format_version") != 1:
        raise ZooError(
            f"{path}: unsupported format_version {meta.get('format_version')!r} (expected 1)"
        )
    for key in ("architecture", "num_models"):
        if key not in meta:
            raise ZooError(f"{path}: no {key!r} entry")
    return meta


def _read_spec(folder: Path, meta: dict) -> WeightSpec:
    """The spec of ``zoo.json``, checked against ``layout.csv``."""
    try:
        spec = WeightSpec.from_dict(meta["architecture"])
    except (KeyError, TypeError, SpecError) as err:
        raise ZooError(f"{folder / 'zoo.json'}: bad architecture ({err})") from err
    try:
        layout = read_layout_csv(folder / "layout.csv")
    except (KeyError, ValueError, SyntaxError) as err:
        raise ZooError(f"{folder / 'layout.csv'}: unreadable ({err})") from err
    expected = [
        (name, start, end, size, tuple(shape)) for name, start, end, size, shape in spec.layout()
    ]
    if layout != expected:
        raise ZooError(
            f"{folder / 'layout.csv'}: does not match zoo.json's architecture: "
            f"{_first_difference(layout, expected)}"
        )
    return spec


def _first_difference(layout: list[tuple], expected: list[tuple]) -> str:
    """Where ``layout.csv``'s rows first differ from the architecture's (what differs)."""

    def row(entry: tuple) -> str:
        name, start, end, size, shape = entry
        odd_size = f" of size {size}" if size != end - start else ""
        return f"{name} {tuple(shape)} at {start}-{end}{odd_size}"

    for line, (got, want) in enumerate(zip(layout, expected, strict=False), start=2):
        if got != want:
            return f"line {line} has {row(got)}, zoo.json gives {row(want)}"
    if len(layout) < len(expected):
        return f"{len(layout)} rows, zoo.json gives {len(expected)} (next: {row(expected[len(layout)])})"
    return (
        f"{len(layout)} rows, zoo.json gives {len(expected)} (extra: {row(layout[len(expected)])})"
    )


def _read_weights(path: Path, num_params: int) -> NpyRows:
    """Open ``weights.npy`` for row reads by plain file reads (nothing mapped or loaded whole)."""
    try:
        weights = NpyRows.open(path)
    except WeightnetError as err:
        raise ZooError(str(err)) from None
    if weights.dtype != np.float32:
        raise ZooError(f"{path}: expected float32 rows, got {weights.dtype}")
    if weights.shape[1] != num_params:
        raise ZooError(
            f"{path}: rows of {weights.shape[1]} parameters, layout.csv says {num_params}"
        )
    return weights


def _read_metrics(path: Path, kind: str) -> dict[str, np.ndarray]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        rows = list(reader)
    if not header:
        raise ZooError(f"{path}: empty")
    required = CLASSIFIER_COLUMNS if kind in ("mlp", "cnn") else ("model_id",)
    missing = [name for name in required if name not in header]
    if missing:
        raise ZooError(f"{path}: missing column(s) {', '.join(missing)}")
    bad = next((i for i, row in enumerate(rows) if len(row) != len(header)), None)
    if bad is not None:
        raise ZooError(
            f"{path}: line {bad + 2} has {len(rows[bad])} fields, the header {len(header)}"
        )
    return {name: _parse_column([row[i] for row in rows]) for i, name in enumerate(header)}


def _parse_column(values: list[str]) -> np.ndarray:
    """int64 if every value is an integer, float64 if every value is a number, else str."""
    for dtype in (np.int64, np.float64):
        try:
            return np.array(values, dtype=dtype) if values else np.zeros(0, dtype)
        except ValueError:
            continue
    return np.array(values, dtype=str)
