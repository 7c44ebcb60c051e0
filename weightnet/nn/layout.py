r"""Neuron-set layout of a weight space: which axes the symmetry group permutes.

The neurons of an ``L``-layer network form ``L + 1`` sets: set 0 holds the network's
inputs, set ``L`` its outputs, the others the hidden neurons (conv channels count as
neurons). Layer ``i``'s weight is indexed by (row set ``i + 1``, column set ``i``), its bias
by set ``i + 1``. A set is *permutable* when the group acts on it: hidden sets always, the
input and output sets only under NFN's NP assumption.

Equivariant layers work on *folded* tensors: every axis that is not permuted (conv
kernel positions, and the input/output neurons when they are fixed) is folded into the
feature axis, so each tensor becomes one of

* an **edge** tensor ``(B, n_row, n_col, D)``: both axes permutable;
* a **node** tensor ``(B, n, D)``: one permutable axis (biases; under HNP, the first
  layer's weight, and the last layer's weight transposed);
* a **global** tensor ``(B, D)``: no permutable axis (under HNP, the last bias).

Conv kernels are folded as NFN does, ``"b o i h w c -> b o i (h w c)"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["Slot", "NeuronSetLayout", "edge_means"]


class _EdgeMeans(torch.autograd.Function):
    """Row and column means of ``(B, n_row, n_col, D)``; the backward writes one tensor."""

    @staticmethod
    def forward(ctx, x: Tensor) -> tuple[Tensor, Tensor]:
        ctx.shape = x.shape
        return x.mean(2), x.mean(1)

    @staticmethod
    def backward(ctx, grad_over_cols: Tensor, grad_over_rows: Tensor) -> Tensor:
        _, n_row, n_col, _ = ctx.shape
        rows = (grad_over_cols / n_col).unsqueeze(2)  # (B, n_row, 1, D)
        cols = (grad_over_rows / n_row).unsqueeze(1)  # (B, 1, n_col, D)
        return rows + cols  # (B, n_row, n_col, D)


def edge_means(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(x.mean(2), x.mean(1))`` of an edge tensor ``(B, n_row, n_col, D)``, with a fused backward."""
    return _EdgeMeans.apply(x)


@dataclass(frozen=True)
class Slot:
    """One weight or bias tensor, as seen by an equivariant layer.

    Attributes:
        layer: layer index.
        is_bias: bias (else weight).
        row_set: neuron set of the first permutable axis, or ``None``.
        col_set: neuron set of the second permutable axis (edge tensors only), or ``None``.
        fold: features per channel after folding (kernel size times fixed neurons).
    """

    layer: int
    is_bias: bool
    row_set: int | None
    col_set: int | None
    fold: int

    @property
    def name(self) -> str:
        return f"{'bias' if self.is_bias else 'weight'}{self.layer}"

    @property
    def kind(self) -> str:
        """``"edge"``, ``"node"`` or ``"global"``."""
        if self.col_set is not None:
            return "edge"
        return "node" if self.row_set is not None else "global"


class NeuronSetLayout:
    """Folds a :class:`WeightSpace` into edge/node/global tensors and pools them.

    Args:
        spec: the architecture.
        fixed_io: the input and output neurons are not permuted (HNP, DWS);
            else every neuron set is permutable (NP).
    """

    def __init__(self, spec: WeightSpec, fixed_io: bool) -> None:
        self.spec = spec
        self.fixed_io = fixed_io
        sizes = spec.layer_sizes
        last = len(spec)
        self.set_sizes = {k: n for k, n in enumerate(sizes) if not fixed_io or 0 < k < last}
        slots = []
        for i, layer in enumerate(spec.layers):
            rows = i + 1 if (i + 1) in self.set_sizes else None
            cols = i if i in self.set_sizes else None
            fold = layer.kernel_numel
            fold *= 1 if rows is not None else layer.n_out
            fold *= 1 if cols is not None else layer.n_in
            # a weight with a fixed row axis is indexed by its columns alone
            first, second = (rows, cols) if rows is not None else (cols, None)
            slots.append(Slot(i, False, first, second, fold))
            slots.append(Slot(i, True, rows, None, 1 if rows is not None else layer.n_out))
        self.slots: tuple[Slot, ...] = tuple(slots)

    def __repr__(self) -> str:
        return f"NeuronSetLayout({self.spec.describe()!r}, fixed_io={self.fixed_io})"

    # ----------------------------------------------------------------- dims
    def set_features(self, channels: int) -> dict[int, int]:
        """Feature size of the pooled neuron features of each permutable set."""
        dims = dict.fromkeys(self.set_sizes, 0)
        for slot in self.slots:
            for k in (slot.row_set, slot.col_set):
                if k is not None:
                    dims[k] += slot.fold * channels
        return dims

    def global_features(self, channels: int) -> int:
        """Feature size of :meth:`pool_global`."""
        return sum(slot.fold for slot in self.slots) * channels

    # -------------------------------------------------------- fold / unfold
    def fold(self, ws: WeightSpace) -> list[Tensor]:
        """Folded tensors in slot order (weight then bias, layer by layer)."""
        if len(ws) != len(self.spec):
            raise SpecError(f"weight space has {len(ws)} layers, spec has {len(self.spec)}")
        out = []
        batch = ws.batch_size
        for slot in self.slots:
            if slot.is_bias:
                t = ws.biases[slot.layer]  # (B, n_out, C)
                out.append(t if slot.row_set is not None else t.reshape(batch, -1))
                continue
            w = ws.weights[slot.layer]  # (B, n_out, n_in, *kernel, C)
            n_out, n_in = w.shape[1], w.shape[2]
            if slot.kind == "edge":
                out.append(w.reshape(batch, n_out, n_in, -1))  # (B, n_out, n_in, K*C)
            elif slot.kind == "global":
                out.append(w.reshape(batch, -1))  # (B, n_out*n_in*K*C)
            elif slot.row_set == slot.layer + 1:
                out.append(w.reshape(batch, n_out, -1))  # (B, n_out, n_in*K*C)
            else:
                out.append(w.transpose(1, 2).reshape(batch, n_in, -1))  # (B, n_in, n_out*K*C)
        return out

    def unfold(self, tensors: list[Tensor], channels: int) -> WeightSpace:
        """Inverse of :meth:`fold` for ``channels`` channels."""
        weights, biases = [], []
        for slot, t in zip(self.slots, tensors, strict=True):
            layer = self.spec.layers[slot.layer]
            batch = t.shape[0]
            if slot.is_bias:
                biases.append(t.reshape(batch, layer.n_out, channels))  # (B, n_out, C)
            elif slot.kind == "node" and slot.row_set != slot.layer + 1:
                t = t.reshape(batch, layer.n_in, layer.n_out, *layer.kernel, channels)
                weights.append(t.transpose(1, 2))  # (B, n_out, n_in, *kernel, C)
            else:
                weights.append(t.reshape(batch, *layer.shape, channels))
        return WeightSpace(tuple(weights), tuple(biases))

    # -------------------------------------------------------------- pooling
    def pool(
        self,
        tensors: list[Tensor],
        edge_offsets: dict[int, tuple[Tensor | None, Tensor | None]] | None = None,
    ) -> tuple[dict[int, Tensor], Tensor]:
        """Neuron features of every permutable set, and the global features.

        ``edge_offsets[i] = (row_offset, col_offset)`` pools edge tensor ``i`` as if
        ``row_offset[:, None] + col_offset[None]`` (``(n_row, D)``, ``(n_col, D)`` or
        ``None``) had been added to it, without materializing the sum.

        Returns:
            ``sets[k]``: ``(B, n_k, D_k)``, what each neuron of set ``k`` sees: its node
            tensors and the means of the edge tensors over the other axis (its incoming
            weights averaged over the previous layer, its outgoing weights averaged over
            the next layer), in slot order; and ``(B, D)`` as :meth:`pool_global`.
        """
        parts: dict[int, list[Tensor]] = {k: [] for k in self.set_sizes}
        pooled = []
        for i, (slot, t) in enumerate(zip(self.slots, tensors, strict=True)):
            if slot.kind == "edge":
                over_cols, over_rows = edge_means(t)  # (B, n_row, D), (B, n_col, D)
                row_off, col_off = (edge_offsets or {}).get(i, (None, None))
                if row_off is not None:
                    over_cols, over_rows = over_cols + row_off, over_rows + row_off.mean(0)
                if col_off is not None:
                    over_cols, over_rows = over_cols + col_off.mean(0), over_rows + col_off
                parts[slot.row_set].append(over_cols)
                parts[slot.col_set].append(over_rows)
                pooled.append(over_cols.mean(1))
            elif slot.kind == "node":
                parts[slot.row_set].append(t)
                pooled.append(t.mean(1))
            else:
                pooled.append(t)
        sets = {k: torch.cat(p, dim=-1) for k, p in parts.items()}
        return sets, torch.cat(pooled, dim=-1)

    def pool_global(self, tensors: list[Tensor]) -> Tensor:
        """``(B, D)``: every tensor averaged over its permutable axes (fixed axes kept)."""
        pooled = []
        for slot, t in zip(self.slots, tensors, strict=True):
            dims = {"edge": (1, 2), "node": (1,), "global": ()}[slot.kind]
            pooled.append(t.mean(dims) if dims else t)
        return torch.cat(pooled, dim=-1)
