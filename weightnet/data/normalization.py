"""Per-tensor normalization statistics of a zoo's weights.

Every weight tensor and every bias tensor of the architecture gets one mean and one
standard deviation, computed over the training rows only; applying them maps each
tensor to roughly zero mean and unit variance. The statistics are plain floats
(``to_dict`` / ``from_dict``), so a trained metanet can carry them in its checkpoint
and normalize new networks the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["WeightStats"]

_CHUNK_ROWS = 4096
_MIN_STD = 1e-8


@dataclass(frozen=True)
class WeightStats:
    """Mean and standard deviation of each layer's weight and bias tensor.

    Attributes:
        weight_mean: one float per layer.
        weight_std: one float per layer (never below ``1e-8``).
        bias_mean: one float per layer.
        bias_std: one float per layer (never below ``1e-8``).
    """

    weight_mean: tuple[float, ...]
    weight_std: tuple[float, ...]
    bias_mean: tuple[float, ...]
    bias_std: tuple[float, ...]

    @classmethod
    def from_rows(
        cls,
        spec: WeightSpec,
        sources: Sequence[tuple[np.ndarray, np.ndarray]],
        transform: Callable[[WeightSpace, WeightSpec], WeightSpace] | None = None,
    ) -> WeightStats:
        """Statistics of selected rows of flat weight matrices, read in chunks.

        Args:
            spec: the architecture; ``spec.layout()`` says where each tensor lies in a row.
            sources: ``(matrix, rows)`` pairs: an ``(N, P)`` array (a memmap is read chunk by
                chunk, never whole) and the row indices to include.
            transform: a batch transform ``(ws, spec) -> ws`` applied to every chunk first
                (statistics of canonicalized weights, for example).

        Raises:
            SpecError: if no rows are selected or a matrix does not have ``P`` columns.
        """
        layout = spec.layout()
        sums = np.zeros(len(layout))
        squares = np.zeros(len(layout))
        count = 0
        for matrix, rows in sources:
            if matrix.ndim != 2 or matrix.shape[1] != spec.num_params:
                raise SpecError(
                    f"weights of shape {tuple(matrix.shape)} do not have {spec.num_params} columns"
                )
            rows = np.sort(np.asarray(rows, dtype=np.int64))
            for begin in range(0, len(rows), _CHUNK_ROWS):
                chunk = np.asarray(matrix[rows[begin : begin + _CHUNK_ROWS]], dtype=np.float64)
                if transform is not None:
                    ws = transform(WeightSpace.from_flat(spec, torch.from_numpy(chunk)), spec)
                    chunk = ws.flatten().numpy()  # (rows, P)
                for t, (_, start, end, _, _) in enumerate(layout):
                    block = chunk[:, start:end]  # (rows, size)
                    sums[t] += block.sum()
                    squares[t] += np.square(block).sum()
            count += len(rows)
        if count == 0:
            raise SpecError("no rows to compute normalization statistics from")
        sizes = np.array([size for _, _, _, size, _ in layout], dtype=np.float64) * count
        mean = sums / sizes
        std = np.sqrt(np.maximum(squares / sizes - mean**2, 0.0))
        std = np.maximum(std, _MIN_STD)
        return cls(
            weight_mean=tuple(float(m) for m in mean[0::2]),
            weight_std=tuple(float(s) for s in std[0::2]),
            bias_mean=tuple(float(m) for m in mean[1::2]),
            bias_std=tuple(float(s) for s in std[1::2]),
        )

    def normalize(self, ws: WeightSpace) -> WeightSpace:
        """``(t - mean) / std`` for every weight and bias tensor of ``ws``."""
        return self._affine(ws, lambda t, m, s: (t - m) / s)

    def denormalize(self, ws: WeightSpace) -> WeightSpace:
        """The inverse of :meth:`normalize`: ``t * std + mean`` for every tensor."""
        return self._affine(ws, lambda t, m, s: t * s + m)

    def _affine(self, ws: WeightSpace, fn) -> WeightSpace:
        """``fn(tensor, mean, std)`` for every weight and bias tensor of ``ws``."""
        if len(ws) != len(self.weight_mean):
            raise SpecError(
                f"statistics for {len(self.weight_mean)} layers, weights have {len(ws)}"
            )
        weights = tuple(
            fn(w, m, s)
            for w, m, s in zip(ws.weights, self.weight_mean, self.weight_std, strict=True)
        )
        biases = tuple(
            fn(b, m, s) for b, m, s in zip(ws.biases, self.bias_mean, self.bias_std, strict=True)
        )
        return WeightSpace(weights, biases)

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-ready (and ``torch.load(weights_only=True)``-safe) form."""
        return {
            "weight_mean": list(self.weight_mean),
            "weight_std": list(self.weight_std),
            "bias_mean": list(self.bias_mean),
            "bias_std": list(self.bias_std),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> WeightStats:
        """Inverse of :meth:`to_dict`."""
        return cls(**{key: tuple(float(v) for v in data[key]) for key in cls.__dataclass_fields__})
