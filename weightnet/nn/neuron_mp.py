r"""Message passing between neurons along a network's own weights.

A cheap encoder of every neuron of a network, equivariant to hidden-neuron permutations.
Each neuron set :math:`k` (inputs, hidden layers, outputs) has a state
:math:`h_k \in \mathbb{R}^{n_k \times c}`. The network's input and output neurons are not
permuted, so their states are learned per-position embeddings, the same for every
network; a hidden neuron's state starts from its bias. Every round updates all hidden
states at once from the previous round's,

.. math::

    h_l \leftarrow h_l + \sigma\big(U_l\,[\,h_l,\ b_l,\ \tfrac{1}{n_{l-1}} E_{l-1} h_{l-1},\
    \tfrac{1}{n_{l+1}} E_l^\top h_{l+1}\,]\big),

where :math:`E_i` holds layer :math:`i`'s weights and their absolute values as edge
features (conv kernels flattened into them), so a message is a weighted sum of the
neighbours' states, one sum per edge feature. Permuting layer :math:`l`'s neurons permutes
the rows of :math:`E_{l-1}`, the columns of :math:`E_l`, :math:`b_l` and :math:`h_l` alike,
so the states are equivariant. A round costs :math:`O(\text{weights} \times c)` in batched
matrix products, far less than a weight-space layer, which maps every weight's
:math:`c` channels to :math:`c` channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from weightnet.nn.channels import activation_function
from weightnet.nn.gemm import matmul
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["NeuronMessagePassing"]


class NeuronMessagePassing(nn.Module):
    """States of every hidden neuron after ``num_rounds`` rounds of message passing.

    Args:
        spec: the architecture of the input networks.
        in_channels: channels ``C`` of the input weight space.
        hidden_channels: size ``c`` of a neuron's state.
        num_rounds: rounds of message passing.
        activation: ``relu``, ``gelu``, ``silu`` or ``tanh``.

    Shapes:
        input: ``WeightSpace`` of ``spec`` with ``C`` channels, batch ``B``.
        output: one ``(B, n_l, c)`` tensor per hidden layer ``l``.
    """

    def __init__(
        self,
        spec: WeightSpec,
        in_channels: int = 1,
        hidden_channels: int = 32,
        num_rounds: int = 3,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if num_rounds < 1:
            raise ValueError(f"num_rounds must be at least 1, got {num_rounds}")
        self.spec = spec
        self.hidden_channels, self.num_rounds = hidden_channels, num_rounds
        sizes = spec.layer_sizes
        c = hidden_channels
        self.input_embedding = nn.Parameter(torch.empty(sizes[0], c))
        self.output_embedding = nn.Parameter(torch.empty(sizes[-1], c))
        self.start = nn.ModuleList(nn.Linear(in_channels, c) for _ in spec.hidden_sizes)
        # edge features per weight: every (kernel position, channel) value and its magnitude
        edge = [2 * layer.kernel_numel * in_channels for layer in spec.layers]
        hidden = range(len(spec.hidden_sizes))
        self.self_maps, self.prev_maps, self.next_maps = (nn.ModuleList() for _ in range(3))
        for _ in range(num_rounds):  # U_l split by input: own state and bias, each neighbour
            self.self_maps.append(nn.ModuleList(nn.Linear(c + in_channels, c) for _ in hidden))
            self.prev_maps.append(nn.ModuleList(_Messages(c, edge[i]) for i in hidden))
            self.next_maps.append(nn.ModuleList(_Messages(c, edge[i + 1]) for i in hidden))
        self.activation = activation_function(activation)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Standard normal io embeddings, PyTorch's default init for the linear maps."""
        nn.init.normal_(self.input_embedding)
        nn.init.normal_(self.output_embedding)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                module.reset_parameters()

    def forward(self, ws: WeightSpace) -> list[Tensor]:
        edges = [w.flatten(3) for w in ws.weights]  # (B, n_out, n_in, K) per layer
        # hidden set i + 1 reads layer i's rows (incoming) and layer i + 1's columns (outgoing)
        into = [_edge_features(e) for e in edges[:-1]]  # (B, n_out, 2 n_in K)
        out_of = [_edge_features(e.transpose(1, 2)) for e in edges[1:]]  # (B, n_in, 2 n_out K)
        biases = ws.biases[:-1]  # (B, n_l, C) per hidden layer
        hidden = [start(b) for start, b in zip(self.start, biases, strict=True)]  # (B, n_l, c)
        for self_maps, prev_maps, next_maps in zip(
            self.self_maps, self.prev_maps, self.next_maps, strict=True
        ):
            states = [self.input_embedding, *hidden, self.output_embedding]
            new = []
            for i, h in enumerate(hidden):  # hidden set i + 1, between layers i and i + 1
                update = self_maps[i](torch.cat([h, biases[i]], dim=-1))  # (B, n, c)
                update = update + prev_maps[i](into[i], states[i])
                update = update + next_maps[i](out_of[i], states[i + 2])
                new.append(h + self.activation(update))
            hidden = new
        return hidden


def _edge_features(e: Tensor) -> Tensor:
    """``(B, n, m, K)`` -> ``(B, n, 2 m K)``: values then magnitudes, averaged over ``m``.

    The magnitudes join along the neuron axis ``m``: a cheap cat of contiguous blocks.
    """
    return torch.cat([e, e.abs()], dim=2).flatten(2) / e.shape[2]


class _Messages(nn.Module):
    r"""``sum_{j,f} E[:, i, (f, j)] (h_j V_f)``: a neighbour set's states, mapped per edge feature.

    Mapping the states first (``h V``: ``(m, F c)``, rearranged to ``(F m, c)``) turns the
    message and its linear map into one matrix product with the edge tensor.
    """

    def __init__(self, channels: int, edge_features: int) -> None:
        super().__init__()
        self.channels = channels
        self.map = nn.Linear(channels, edge_features * channels, bias=False)

    def forward(self, edges: Tensor, states: Tensor) -> Tensor:
        """``edges (B, n, 2 m K)``, ``states (B, m, c)`` or ``(m, c)`` -> ``(B, n, c)``."""
        mapped = self.map(states).unflatten(-1, (2, -1, self.channels))  # (..., m, 2, K, c)
        mapped = mapped.transpose(-4, -3).reshape(*mapped.shape[:-4], -1, self.channels)
        if mapped.ndim == 2:  # the same (2 m K, c) for every network: one large product
            return matmul(edges, mapped)  # (B, n, c)
        return edges @ mapped  # (B, n, c)
