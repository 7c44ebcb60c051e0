r"""The fused permutation-equivariant linear map between weight spaces.

For a group that permutes each neuron set independently, every equivariant linear map
between weight spaces is a sum of a few pooling-and-broadcasting terms (Navon et al. 2023,
"Equivariant Architectures for Learning in Deep Weight Spaces"; Zhou et al. 2023,
"Permutation Equivariant Neural Functionals"). With the tensors folded by
:class:`~weightnet.nn.layout.NeuronSetLayout`, the output for an edge tensor
:math:`W_i` (rows: set :math:`r`, columns: set :math:`c`) is

.. math::

    W'_{i,pq} = W_{i,pq} A_i + (N_{r,p} R)_i + (N_{c,q} S)_i + (G T)_i,

and for a node tensor :math:`b_{i,p}` (set :math:`r`) :math:`b'_{i,p} = (N_{r,p} R)_i + (G T)_i`,
where :math:`N_{k,p}` stacks what neuron :math:`p` of set :math:`k` sees: its bias, the mean
of its incoming weights (over the previous layer), the mean of its outgoing weights
(over the next layer), and :math:`G` stacks every tensor's mean over its permutable axes.
This covers the weight->weight, weight->bias, bias->weight and bias->bias blocks,
including the interactions with the neighbouring layers; non-neighbouring layers
interact through :math:`G` only.

The implementation is fused: one matmul per neuron set computes the contributions to
every tensor that is indexed by that set, one matmul computes all the global terms,
and one matmul per edge tensor the pointwise term. There is no loop over the batch.

``io`` says how the network's input and output neurons are treated:

* ``"np"``: permutable like hidden neurons (NFN's NP layer);
* ``"hnp"``: fixed, folded into the features (NFN's HNP layer; the complete basis);
* ``"untied"``: fixed, but kept as an axis: terms that map an input/output neuron to
  itself get position-specific weights, the terms that mix positions are pooled
  (the DWS layer here; linear instead of quadratic in the number of inputs).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from weightnet.nn.gemm import matmul
from weightnet.nn.layout import NeuronSetLayout
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["IO_MODES", "WeightSpaceLinear", "edge_linear"]

IO_MODES = ("np", "hnp", "untied")

_POINTWISE = {
    (False, False): "brcd,de->brce",
    (False, True): "brcd,cde->brce",
    (True, False): "brcd,rde->brce",
    (True, True): "brcd,rcde->brce",
}


class WeightSpaceLinear(nn.Module):
    r"""Permutation-equivariant linear layer from ``in_channels`` to ``out_channels`` channels.

    Args:
        spec: the architecture of the networks whose weights are processed.
        in_channels: channels ``C`` of the input weight space.
        out_channels: channels of the output weight space.
        io: ``"np"``, ``"hnp"`` or ``"untied"`` (see the module docstring).
        bf16: run the large products on the CPU with bfloat16 factors (see
            :mod:`weightnet.nn.gemm`; opt-in, float32 otherwise).

    Shapes:
        input: :class:`WeightSpace` of ``spec`` with ``in_channels`` channels, batch ``B``.
        output: :class:`WeightSpace` of ``spec`` with ``out_channels`` channels, batch ``B``.
    """

    def __init__(
        self,
        spec: WeightSpec,
        in_channels: int,
        out_channels: int,
        io: str = "np",
        bf16: bool = False,
    ):
        super().__init__()
        if io not in IO_MODES:
            raise SpecError(f"unknown io mode {io!r}, expected one of {IO_MODES}")
        self.spec = spec
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.io = io
        self.bf16 = bf16
        self.layout = NeuronSetLayout(spec, fixed_io=io == "hnp")
        slots = self.layout.slots
        last = len(spec)
        untied = {k for k in self.layout.set_sizes if io == "untied" and k in (0, last)}
        set_in = self.layout.set_features(in_channels)
        global_in = self.layout.global_features(in_channels)

        # consumers of each neuron set's features: (slot index, role) in a fixed order
        self._set_parts: dict[int, list[tuple[int, str]]] = {k: [] for k in set_in}
        fan_in = []
        for idx, slot in enumerate(slots):
            total = global_in
            for role, k in (("row", slot.row_set), ("col", slot.col_set)):
                if k is not None:
                    self._set_parts[k].append((idx, role))
                    total += set_in[k]
            if slot.kind == "edge":
                total += slot.fold * in_channels
            fan_in.append(total)
        self._bounds = [1.0 / math.sqrt(f) for f in fan_in]
        self._out_dims = [slot.fold * out_channels for slot in slots]

        self.pointwise = nn.ParameterDict()
        self._pointwise_eq: dict[str, str] = {}
        for slot in slots:
            if slot.kind == "edge":
                axes = (slot.row_set in untied, slot.col_set in untied)
                self._pointwise_eq[slot.name] = _POINTWISE[axes]
                positions = [
                    self.layout.set_sizes[k] for k in (slot.row_set, slot.col_set) if k in untied
                ]
                shape = (*positions, slot.fold * in_channels, slot.fold * out_channels)
                self.pointwise[slot.name] = nn.Parameter(torch.empty(shape))
        self.set_maps = nn.ParameterDict()
        self.set_biases = nn.ParameterDict()
        for k, parts in self._set_parts.items():
            width = sum(self._out_dims[idx] for idx, _ in parts)
            positions = (self.layout.set_sizes[k],) if k in untied else ()
            self.set_maps[str(k)] = nn.Parameter(torch.empty(*positions, set_in[k], width))
            if k in untied:
                self.set_biases[str(k)] = nn.Parameter(torch.empty(*positions, width))
        self.global_map = nn.Linear(global_in, sum(self._out_dims))
        self.reset_parameters()

    def _scale(self, indices: list[int]) -> Tensor:
        """Per output feature, the init bound of the tensor it belongs to."""
        return torch.cat([torch.full((self._out_dims[i],), self._bounds[i]) for i in indices])

    def reset_parameters(self) -> None:
        """Uniform init with bound ``1/sqrt(fan-in)``, fan-in summed over all terms of a tensor."""
        with torch.no_grad():
            for idx, slot in enumerate(self.layout.slots):
                if slot.name in self.pointwise:
                    bound = self._bounds[idx]
                    self.pointwise[slot.name].uniform_(-bound, bound)
            for k, parts in self._set_parts.items():
                scale = self._scale([idx for idx, _ in parts])
                self.set_maps[str(k)].uniform_(-1, 1).mul_(scale)
                if str(k) in self.set_biases:
                    self.set_biases[str(k)].uniform_(-1, 1).mul_(scale)
            scale = self._scale(list(range(len(self.layout.slots))))
            self.global_map.weight.uniform_(-1, 1).mul_(scale[:, None])
            self.global_map.bias.uniform_(-1, 1).mul_(scale)

    def extra_repr(self) -> str:
        return (
            f"spec={self.spec.describe()!r}, in_channels={self.in_channels}, "
            f"out_channels={self.out_channels}, io={self.io!r}"
            + (", bf16=True" if self.bf16 else "")
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def input_offsets(self) -> dict[int, tuple[Tensor | None, Tensor | None]]:
        """Hook for subclasses: constant offsets added to the folded inputs.

        Maps a slot index to ``(row_offset, col_offset)``, ``(n_row, D)`` and ``(n_col, D)``
        (or ``None``), broadcast over the batch and the other axis. For edge tensors they
        are applied through the pooled features and the pointwise term, never materialized.
        """
        return {}

    def forward(self, ws: WeightSpace) -> WeightSpace:
        xs = self.layout.fold(ws)
        offsets = self.input_offsets()
        for idx, (row_off, _) in offsets.items():
            if self.layout.slots[idx].kind == "node":
                xs[idx] = xs[idx] + row_off  # (B, n, D)
        edge_offsets = {i: o for i, o in offsets.items() if self.layout.slots[i].kind == "edge"}
        sets, pooled = self.layout.pool(xs, edge_offsets)  # {k: (B, n_k, D_k)}, (B, D_g)
        g = matmul(pooled, self.global_map.weight.t(), self.global_map.bias, self.bf16)  # (B, E_g)
        g_parts = g.split(self._out_dims, dim=-1)
        set_parts: dict[tuple[int, str], Tensor] = {}
        for k, feats in sets.items():
            weight = self.set_maps[str(k)]
            if weight.ndim == 3:  # position-specific (untied input/output neurons)
                h = torch.einsum("bnd,nde->bne", feats, weight) + self.set_biases[str(k)]
            else:
                h = matmul(feats, weight, bf16=self.bf16)  # (B, n_k, E_k)
            widths = [self._out_dims[idx] for idx, _ in self._set_parts[k]]
            set_parts.update(zip(self._set_parts[k], h.split(widths, dim=-1), strict=True))
        outs = []
        for idx, (slot, x) in enumerate(zip(self.layout.slots, xs, strict=True)):
            g = g_parts[idx]
            if slot.kind == "global":
                outs.append(g)
                continue
            row = set_parts[(idx, "row")] + g.unsqueeze(1)  # (B, n_row, D')
            if slot.kind == "node":
                outs.append(row)
                continue
            col = set_parts[(idx, "col")]  # (B, n_col, D')
            weight = self.pointwise[slot.name]
            if weight.ndim == 2:
                row_off, col_off = edge_offsets.get(idx, (None, None))
                if row_off is not None:  # (x + o) @ A = x @ A + o @ A
                    row = row + row_off @ weight
                if col_off is not None:
                    col = col + col_off @ weight
                outs.append(edge_linear(x, weight, row, col, self.bf16))
            else:
                if idx in edge_offsets:
                    raise SpecError("position-specific weights take no input offsets")
                y = row.unsqueeze(2) + col.unsqueeze(1)  # (B, n_row, n_col, D')
                outs.append(y + torch.einsum(self._pointwise_eq[slot.name], x, weight))
        return self.layout.unfold(outs, self.out_channels)


class _EdgeLinear(torch.autograd.Function):
    """``x @ weight + row[:, :, None] + col[:, None]``, the broadcasts added in place."""

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, row: Tensor, col: Tensor, bf16: bool) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.bf16 = bf16
        y = matmul(x, weight, bf16=bf16)  # (B, n_row, n_col, D')
        return y.add_(row.unsqueeze(2)).add_(col.unsqueeze(1))

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        flat = grad.reshape(-1, grad.shape[-1])  # (B * n_row * n_col, D')
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = matmul(flat, weight.t(), bf16=ctx.bf16).view(x.shape)
        if ctx.needs_input_grad[1]:
            grad_w = matmul(x.reshape(-1, x.shape[-1]).t(), flat, bf16=ctx.bf16)
        return grad_x, grad_w, grad.sum(2), grad.sum(1), None


def edge_linear(x: Tensor, weight: Tensor, row: Tensor, col: Tensor, bf16: bool = False) -> Tensor:
    """Pointwise map of an edge tensor plus row and column broadcasts, fused.

    Args:
        x: ``(B, n_row, n_col, D)``.
        weight: ``(D, D')``.
        row: ``(B, n_row, D')``, broadcast over columns.
        col: ``(B, n_col, D')``, broadcast over rows.
        bf16: bfloat16 factors in the product (see :func:`~weightnet.nn.gemm.matmul`).

    Returns:
        ``(B, n_row, n_col, D')``.
    """
    return _EdgeLinear.apply(x, weight, row, col, bf16)
