"""Read rows of a large 2-D ``.npy`` file without mapping or loading it whole.

Rows are read with plain file reads into fresh buffers, so streaming through a
5 GB file, or drawing random batches from it for many epochs, keeps the resident set
at one chunk or batch (a memory map counts every touched page as resident until the
kernel reclaims it: one pass over a memory-mapped 5.4 GB zoo shows ~5 GB RSS).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from weightnet.errors import WeightnetError

__all__ = ["NpyRows"]


@dataclass(frozen=True)
class NpyRows:
    """A C-order 2-D float ``.npy`` file: its shape, dtype and where its data begins.

    ``rows[i]``, ``rows[a:b]`` and ``rows[index_array]`` read those rows, so it can stand
    in for a read-only memory map of the file (``len``, ``shape``, ``ndim``, ``dtype``).
    """

    path: Path
    shape: tuple[int, int]
    dtype: np.dtype
    offset: int

    @classmethod
    def open(cls, path: str | Path) -> NpyRows:
        """Read the header of ``path``.

        Raises:
            WeightnetError: if it is missing, not an ``.npy`` file, not 2-D, not a float
                array, Fortran-ordered, or shorter than its header says.
        """
        path = Path(path)
        if not path.is_file():
            raise WeightnetError(f"{path}: no such file")
        try:
            with open(path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                offset = fh.tell()
        except (ValueError, OSError) as err:
            raise WeightnetError(f"{path}: not a readable .npy file ({err})") from None
        if len(shape) != 2 or fortran or dtype.kind != "f":
            raise WeightnetError(
                f"{path}: expected a 2-D C-order float array, got shape {shape}, dtype {dtype}"
                + (", Fortran order" if fortran else "")
            )
        expected = offset + shape[0] * shape[1] * dtype.itemsize
        if path.stat().st_size < expected:
            raise WeightnetError(
                f"{path}: truncated ({path.stat().st_size} bytes, header says {expected})"
            )
        return cls(path, (int(shape[0]), int(shape[1])), dtype, offset)

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        """Rows by integer, slice or integer array (a fresh array, never a view)."""
        if isinstance(index, slice):
            return self.take(np.arange(self.shape[0])[index])
        if np.ndim(index) == 0:
            return self.take([int(index)])[0]
        return self.take(index)

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Consecutive blocks of at most ``rows`` rows, ``(n, shape[1])``."""
        n, p = self.shape
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            for start in range(0, n, rows):
                count = min(rows, n - start)
                block = np.fromfile(fh, dtype=self.dtype, count=count * p)
                yield block.reshape(count, p)

    def take(self, indices: np.ndarray) -> np.ndarray:
        """Rows ``indices`` (any order, repeats allowed), ``(len(indices), shape[1])``.

        Sorted runs of consecutive rows are read with one ``pread`` each.
        """
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n, p = self.shape
        if len(indices) and (indices.min() < 0 or indices.max() >= n):
            raise IndexError(f"{self.path}: row index out of range [0, {n})")
        order = np.argsort(indices, kind="stable")
        wanted = indices[order]
        out = np.empty((len(indices), p), dtype=self.dtype)
        row_bytes = p * self.dtype.itemsize
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1  # starts of consecutive runs
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for run in np.split(np.arange(len(wanted)), breaks):
                if len(run) == 0:
                    continue
                first = int(wanted[run[0]])
                data = os.pread(fd, len(run) * row_bytes, self.offset + first * row_bytes)
                out[order[run]] = np.frombuffer(data, dtype=self.dtype).reshape(len(run), p)
        finally:
            os.close(fd)
        return out
