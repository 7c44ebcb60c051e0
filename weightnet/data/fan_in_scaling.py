"""Architecture-independent weight normalization for mixed-architecture zoos.

Per-layer statistics (:class:`~weightnet.data.normalization.WeightStats`) belong to
one architecture: the third layer of a deep MLP has no counterpart in a shallow one,
and a metanet that should read *unseen* widths and depths has no statistics for them.
Instead, every weight is multiplied by ``sqrt(fan_in)`` of its layer (the factor
standard initializations divide by, so layers of different widths land on one scale)
and then divided by one zoo-wide scale; biases are divided by another. The two scales
are root mean squares over the training split. No mean is subtracted, so the map is
linear per layer: sign flips and permutations of hidden neurons remain exact
symmetries of the normalized weights, and graphs of any architecture stay comparable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["FanInScaling"]

_CHUNK_ROWS = 4096
_MIN_SCALE = 1e-8


def _fan_in_factors(spec: WeightSpec) -> list[float]:
    return [math.sqrt(layer.n_in * layer.kernel_numel) for layer in spec.layers]


@dataclass(frozen=True)
class FanInScaling:
    """``w * sqrt(fan_in) / weight_scale`` for weights, ``b / bias_scale`` for biases.

    Attributes:
        weight_scale: root mean square of the fan-in-scaled weights (training rows).
        bias_scale: root mean square of the biases (training rows).
    """

    weight_scale: float
    bias_scale: float

    @classmethod
    def from_rows(
        cls, sources: Sequence[tuple[WeightSpec, np.ndarray, np.ndarray]]
    ) -> FanInScaling:
        """The two scales over selected rows of zoos of any architectures.

        Args:
            sources: ``(spec, matrix, rows)`` triples: a zoo's spec, its ``(N, P)`` weights
                (a memmap is read in chunks) and the row indices to include.

        Raises:
            SpecError: if no rows are selected or a matrix does not match its spec.
        """
        sums = np.zeros(2)  # weights, biases
        counts = np.zeros(2)
        for spec, matrix, rows in sources:
            if matrix.ndim != 2 or matrix.shape[1] != spec.num_params:
                raise SpecError(
                    f"weights of shape {tuple(matrix.shape)} do not have {spec.num_params} columns"
                )
            factors = _fan_in_factors(spec)
            rows = np.sort(np.asarray(rows, dtype=np.int64))
            for begin in range(0, len(rows), _CHUNK_ROWS):
                chunk = np.asarray(matrix[rows[begin : begin + _CHUNK_ROWS]], dtype=np.float64)
                for t, (_, start, end, size, _) in enumerate(spec.layout()):
                    is_bias = t % 2
                    scale = 1.0 if is_bias else factors[t // 2]
                    sums[is_bias] += np.square(chunk[:, start:end] * scale).sum()
                    counts[is_bias] += size * len(chunk)
        if counts[0] == 0:
            raise SpecError("no rows to compute normalization scales from")
        rms = np.sqrt(sums / np.maximum(counts, 1))
        return cls(float(max(rms[0], _MIN_SCALE)), float(max(rms[1], _MIN_SCALE)))

    def normalize(self, spec: WeightSpec, ws: WeightSpace) -> WeightSpace:
        """The normalized weights of ``ws`` (networks of ``spec``)."""
        if len(ws) != len(spec):
            raise SpecError(f"spec has {len(spec)} layers, weights have {len(ws)}")
        factors = _fan_in_factors(spec)
        weights = tuple(
            w * (f / self.weight_scale) for w, f in zip(ws.weights, factors, strict=True)
        )
        biases = tuple(b / self.bias_scale for b in ws.biases)
        return WeightSpace(weights, biases)

    def to_dict(self) -> dict[str, float]:
        """JSON-ready (and ``torch.load(weights_only=True)``-safe) form."""
        return {"weight_scale": self.weight_scale, "bias_scale": self.bias_scale}

    @classmethod
    def from_dict(cls, data: Mapping[str, float]) -> FanInScaling:
        """Inverse of :meth:`to_dict`."""
        return cls(float(data["weight_scale"]), float(data["bias_scale"]))
