"""The training domain of a metanet: which networks it has seen, and whether a new one is like them.

A metanet reads networks of depths, widths, activations and weight scales it never
saw in training and still returns a number; :class:`TrainingDomain` records the
ranges of its training networks so that ``weightnet predict`` can flag a network
outside them (``in_domain: false`` with the reason) instead of answering silently.

The weight scale of a layer is its *neuron weight norm*: the root-mean-square, over
the layer's output neurons, of the norm of each neuron's incoming weights
(``||W||_F / sqrt(n_out)``, a conv kernel counting as its flattened entries). It does
not grow with the layer's width, so one range covers every architecture of a zoo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from weightnet.weightspace import WeightSpec

__all__ = ["TrainingDomain", "neuron_weight_norms"]

#: At most this many training networks are read to measure the weight-norm range.
MAX_NETWORKS = 20_000


def neuron_weight_norms(spec: WeightSpec, flat: np.ndarray) -> np.ndarray:
    """``(B, L)`` neuron weight norm of every layer of ``B`` flat rows ``(B, P)`` of ``spec``."""
    flat = np.asarray(flat, dtype=np.float64).reshape(len(flat), -1)
    weight_keys = {layer.weight_key: layer.n_out for layer in spec.layers}
    norms = [
        np.sqrt((flat[:, start:end] ** 2).sum(axis=1) / weight_keys[name])
        for name, start, end, _, _ in spec.layout()
        if name in weight_keys
    ]
    return np.stack(norms, axis=1)


def _range(values: Sequence) -> tuple:
    return min(values), max(values)


def _text(low: float, high: float) -> str:
    return f"{low:g}-{high:g}" if low != high else f"{low:g}"


@dataclass(frozen=True)
class TrainingDomain:
    """Ranges of a metanet's training networks (each ``None`` when not recorded).

    Attributes:
        depths: fewest and most layers (weight matrices).
        widths: narrowest and widest hidden layer.
        activations: hidden activations.
        weight_norm: smallest and largest neuron weight norm of any layer.
    """

    depths: tuple[int, int] | None = None
    widths: tuple[int, int] | None = None
    activations: tuple[str, ...] | None = None
    weight_norm: tuple[float, float] | None = None

    @classmethod
    def from_networks(
        cls, groups: Sequence[tuple[WeightSpec, Sequence[str], np.ndarray]]
    ) -> TrainingDomain:
        """The domain of groups ``(spec, activations, flat rows (n, P))`` of training networks."""
        groups = [(spec, acts, rows) for spec, acts, rows in groups if len(rows)]
        specs = [spec for spec, _, _ in groups]
        widths = [w for spec in specs for w in spec.hidden_sizes]
        norms = np.concatenate(
            [neuron_weight_norms(spec, rows).reshape(-1) for spec, _, rows in groups]
        )
        norms = norms[np.isfinite(norms)]
        return cls(
            depths=_range([len(spec) for spec in specs]),
            widths=_range([int(w) for w in widths]) if widths else None,
            activations=tuple(sorted({str(a) for _, acts, _ in groups for a in acts})),
            weight_norm=(float(norms.min()), float(norms.max())) if len(norms) else None,
        )

    @classmethod
    def from_zoo_rows(cls, zoos: Sequence[Any], rows: np.ndarray) -> TrainingDomain:
        """The domain of ``(zoo index, row)`` pairs ``rows`` of ``zoos`` (:class:`~weightnet.data.zoo.Zoo`).

        The weight-norm range is measured on at most :data:`MAX_NETWORKS` rows, evenly spaced.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
        keep = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), MAX_NETWORKS)).astype(int))
        sample = rows[keep] if len(rows) else rows
        groups = []
        for z, zoo in enumerate(zoos):
            picked = np.sort(sample[sample[:, 0] == z, 1])
            acts = np.asarray(zoo.activations).astype(str)[rows[rows[:, 0] == z, 1]]
            groups.append((zoo.spec, sorted(set(acts)), np.asarray(zoo.weights[picked])))
        return cls.from_networks([g for g in groups if len(g[1])])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the ``domain`` entry of a metanet description)."""
        return {
            "depths": list(self.depths) if self.depths else None,
            "widths": list(self.widths) if self.widths else None,
            "activations": list(self.activations) if self.activations is not None else None,
            "weight_norm": list(self.weight_norm) if self.weight_norm else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TrainingDomain:
        """Inverse of :meth:`to_dict` (``None`` or missing entries: not recorded)."""
        data = data or {}

        def pair(key, kind):
            value = data.get(key)
            return (kind(value[0]), kind(value[1])) if value else None

        acts = data.get("activations")
        return cls(
            depths=pair("depths", int),
            widths=pair("widths", int),
            activations=tuple(acts) if acts is not None else None,
            weight_norm=pair("weight_norm", float),
        )

    def why_outside(self, spec: WeightSpec, flat: np.ndarray | None = None) -> list[str]:
        """Why a network of ``spec`` (flat parameters ``(P,)``) lies outside; ``[]`` if inside."""
        reasons = []
        if self.depths and not self.depths[0] <= len(spec) <= self.depths[1]:
            reasons.append(f"depth {len(spec)} layers (trained on {_text(*self.depths)})")
        outside = [
            w
            for w in spec.hidden_sizes
            if self.widths and not self.widths[0] <= w <= self.widths[1]
        ]
        if outside:
            shown = ", ".join(map(str, sorted(set(outside))))
            reasons.append(f"hidden width {shown} (trained on {_text(*self.widths)})")
        acts = sorted(set(spec.activations[:-1]))
        if self.activations and not set(acts) <= set(self.activations):
            reasons.append(f"activation {'/'.join(acts)} (trained on {'/'.join(self.activations)})")
        if self.weight_norm and flat is not None:
            norms = neuron_weight_norms(spec, np.asarray(flat).reshape(1, -1))[0]
            low, high = self.weight_norm
            bad = [
                (float(norm), layer.weight_key)
                for norm, layer in zip(norms, spec.layers, strict=True)
                if not low <= norm <= high
            ]
            if bad:
                norm, key = bad[0]
                more = f" and {len(bad) - 1} more layer(s)" if len(bad) > 1 else ""
                reasons.append(
                    f"neuron weight norm {norm:.3g} in {key}{more} (trained on {low:.3g}-{high:.3g})"
                )
        return reasons
