"""Write zoos in weightnet's on-disk format (DESIGN.md 5.4), never half-way.

A zoo folder holds ``weights.npy`` (N x P float32, rows in ``WeightSpec.layout()``
order), ``layout.csv``, ``metrics.csv`` (one row per model) and ``zoo.json``.
:func:`staged_output` builds the whole output in a hidden sibling folder and renames
it into place only when everything is written, so an interrupted or failed
generation leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from weightnet.errors import WeightnetError
from weightnet.weightspace import WeightSpec, write_layout_csv

__all__ = ["FORMAT_VERSION", "ZooWriter", "check_output_folder", "sha256_file", "staged_output"]

FORMAT_VERSION = 1


def sha256_file(path: str | Path, chunk_bytes: int = 1 << 24) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def check_output_folder(out: str | Path) -> Path:
    """Raise :class:`WeightnetError` unless ``out`` can become a new zoo folder.

    ``out`` must not exist, or be an empty folder; its parent must be writable.
    """
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise WeightnetError(f"{out}: output exists and is not a folder")
        if any(out.iterdir()):
            raise WeightnetError(f"{out}: output folder exists and is not empty")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WeightnetError(
            f"{out.parent}: cannot create the output's parent folder ({err.strerror})"
        ) from err
    return out


@contextlib.contextmanager
def staged_output(out: str | Path) -> Iterator[Path]:
    """Yield a hidden temporary sibling of ``out``; rename it to ``out`` if the block succeeds.

    On any exception (including ``KeyboardInterrupt``) the temporary folder is removed.
    """
    out = check_output_folder(out)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as err:
        raise WeightnetError(f"{out.parent}: cannot write here ({err.strerror})") from err
    try:
        yield staging
        staging.chmod(0o755)
        if out.exists():
            out.rmdir()  # empty, checked above
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class ZooWriter:
    """Fills one zoo folder: weights rows first (memory-mapped), the rest in :meth:`finish`.

    Args:
        folder: an existing empty folder (inside :func:`staged_output`).
        spec: the architecture; fixes ``P`` and ``layout.csv``.
        num_rows: ``N``, the number of models (checkpoints) in the zoo.
    """

    def __init__(self, folder: Path, spec: WeightSpec, num_rows: int) -> None:
        self.folder, self.spec = Path(folder), spec
        self.weights = np.lib.format.open_memmap(
            self.folder / "weights.npy",
            mode="w+",
            dtype=np.float32,
            shape=(num_rows, spec.num_params),
        )  # (N, P)

    def write_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Store ``values`` (``(len(rows), P)``) at row numbers ``rows``."""
        self.weights[rows] = values

    def finish(self, metrics: Mapping[str, Sequence], meta: Mapping) -> None:
        """Write ``layout.csv``, ``metrics.csv`` and ``zoo.json`` (with the weights' sha256).

        Args:
            metrics: column name -> one value per row, in the order the columns should appear
                after ``model_id`` (which is added).
            meta: ``zoo.json`` entries other than ``format_version`` and ``weights_sha256``
                (``recipe``, ``seed``, ``num_models``, ``architecture``, ``dataset``).
        """
        num_rows = self.weights.shape[0]
        self.weights.flush()
        del self.weights
        write_layout_csv(self.spec, self.folder / "layout.csv")
        with open(self.folder / "metrics.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["model_id", *metrics])
            columns = [_column_text(values, name, num_rows) for name, values in metrics.items()]
            for model_id, row in enumerate(zip(*columns, strict=True)):
                writer.writerow([model_id, *row])
        document = {"format_version": FORMAT_VERSION, **meta}
        document["weights_sha256"] = sha256_file(self.folder / "weights.npy")
        (self.folder / "zoo.json").write_text(json.dumps(document, indent=1) + "\n")


def _column_text(values: Sequence, name: str, num_rows: int) -> list[str]:
    """Text of one metrics column: floats as their shortest exact repr."""
    if len(values) != num_rows:
        raise ValueError(f"metrics column {name!r} has {len(values)} values for {num_rows} rows")
    return [repr(float(v)) if isinstance(v, (float, np.floating)) else str(v) for v in values]
