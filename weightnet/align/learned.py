r"""A learned aligner in the style of Deep-Align (Navon et al. 2024, "Equivariant Deep
Weight Space Alignment").

One equivariant body encodes each network of the pair separately: either neuron message
passing (:class:`~weightnet.nn.neuron_mp.NeuronMessagePassing`, ``kind="neuron_mp"``: the
hidden neurons' states are their features; cheap) or an
:class:`~weightnet.models.equivariant.EquivariantBody` of DWS or NFN weight-space layers
(every hidden neuron's feature vector is read off its bias features and its incoming and
outgoing weight features averaged over the neighbouring layers' neurons). Layer ``l`` gets
a score matrix

.. math:: S_l[j, k] = \langle f^{A}_{l,j}, f^{B}_{l,k} \rangle / \sqrt{d},

equivariant to both networks' permutations: ``S(P A, Q B) = P S(A, B) Q^T``. The network's
input and output neurons are never permuted, so with ``io_features`` the first hidden layer's
neurons also see their whole incoming rows (indexed by the inputs) and the last hidden
layer's neurons their whole outgoing columns (indexed by the outputs), not only averages
(with ``neuron_mp``, the raw rows and columns join the features, scaled by learned factors).
Training uses the Sinkhorn relaxation of ``S_l`` (soft permutations), supervised by
planted permutations (:func:`planted_pairs`) and/or by the distance between A and the
softly permuted B; at inference each ``S_l`` is rounded to a permutation with
``scipy.optimize.linear_sum_assignment``, so the aligned network computes exactly B's function.
:func:`align_pairs` aligns many pairs among a set of networks with one body pass per network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from weightnet.align.matching import MatchResult
from weightnet.models.editor import EDITOR_LAYERS
from weightnet.models.equivariant import EquivariantBody
from weightnet.nn.neuron_mp import NeuronMessagePassing
from weightnet.symmetry import invert_permutations, permute, sample_permutations
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = [
    "ALIGNER_BODIES",
    "LearnedAligner",
    "align_pairs",
    "alignment_loss",
    "learned_alignment",
    "planted_pairs",
    "round_scores",
    "sinkhorn",
    "soft_permute",
]


#: Bodies of a :class:`LearnedAligner`: weight-space layers, or neuron message passing.
ALIGNER_BODIES = (*EDITOR_LAYERS, "neuron_mp")


class LearnedAligner(nn.Module):
    r"""Per-layer neuron-similarity scores between two batches of networks.

    Args:
        spec: the architecture of both networks.
        kind: the body: ``"neuron_mp"`` (neuron message passing) or the equivariant
            weight-space layers ``"dws"``, ``"nfn_np"`` or ``"nfn_hnp"``.
        hidden_channels: channels of the body.
        num_layers: equivariant layers in the body (rounds of message passing for ``neuron_mp``).
        feature_dim: size of the neuron features (default ``hidden_channels``).
        dropout: dropout in the body (weight-space bodies only).
        activation: nonlinearity of the body.
        io_features: give the first (last) hidden layer's neurons their whole incoming
            (outgoing) weights along the network's fixed input (output) neurons.

    Shapes:
        input: two ``WeightSpace`` batches of ``spec`` with ``C == 1`` and the same ``B``.
        output: one ``(B, n_l, n_l)`` score matrix per hidden layer; entry ``[j, k]``
        scores neuron ``j`` of the reference against neuron ``k`` of the other network.
    """

    def __init__(
        self,
        spec: WeightSpec,
        kind: str = "neuron_mp",
        hidden_channels: int = 16,
        num_layers: int = 2,
        feature_dim: int | None = None,
        dropout: float = 0.0,
        activation: str = "relu",
        io_features: bool = True,
    ) -> None:
        super().__init__()
        if kind not in ALIGNER_BODIES:
            raise SpecError(f"no aligner body {kind!r}, expected one of {sorted(ALIGNER_BODIES)}")
        self.spec = spec
        self.kind = kind
        self.hidden_channels, self.num_layers = hidden_channels, num_layers
        self.dropout, self.activation = dropout, activation
        self.feature_dim = feature_dim or hidden_channels
        self.io_features = io_features
        if kind == "neuron_mp":  # the states of the hidden neurons are the features
            self.body = NeuronMessagePassing(spec, 1, hidden_channels, num_layers, activation)
            self.neuron_heads = nn.ModuleList(
                nn.Linear(hidden_channels, self.feature_dim) for _ in spec.hidden_sizes
            )
            # with io_features, the raw incoming (outgoing) weights of the first (last)
            # hidden layer join its features, scaled by a learned factor
            self.io_scales = nn.Parameter(torch.ones(2)) if io_features else None
            return
        self.body = EquivariantBody(
            spec, EDITOR_LAYERS[kind], 1, hidden_channels, num_layers, dropout, activation
        )
        channels = hidden_channels + 1  # the body's output and the input weights themselves
        self.neuron_heads = nn.ModuleList(
            nn.Linear(3 * channels, self.feature_dim) for _ in spec.hidden_sizes
        )
        if self.io_features:
            first, last = spec.layers[0], spec.layers[-1]
            rows, columns = first.n_in * first.kernel_numel, last.n_out * last.kernel_numel
            self.input_rows = nn.Linear(rows * channels, channels)
            self.output_columns = nn.Linear(columns * channels, channels)

    def reset_parameters(self) -> None:
        self.body.reset_parameters()
        for head in self.neuron_heads:
            head.reset_parameters()
        if self.kind == "neuron_mp":
            if self.io_features:
                nn.init.ones_(self.io_scales)
        elif self.io_features:
            self.input_rows.reset_parameters()
            self.output_columns.reset_parameters()

    def config(self) -> dict:
        """The constructor's keyword arguments after ``spec`` (JSON-ready)."""
        return {
            "kind": self.kind,
            "hidden_channels": self.hidden_channels,
            "num_layers": self.num_layers,
            "feature_dim": self.feature_dim,
            "dropout": self.dropout,
            "activation": self.activation,
            "io_features": self.io_features,
        }

    def extra_repr(self) -> str:
        return (
            f"{self.spec.describe()!r}, kind={self.kind!r}, feature_dim={self.feature_dim}, "
            f"io_features={self.io_features}"
        )

    def neuron_features(self, ws: WeightSpace) -> list[Tensor]:
        """``(B, n_l, feature_dim)`` per hidden layer, equivariant to hidden permutations."""
        if self.kind == "neuron_mp":
            features = [head(h) for head, h in zip(self.neuron_heads, self.body(ws), strict=True)]
            if self.io_features:
                rows = ws.weights[0].flatten(2)  # (B, n_1, n_0 K C)
                columns = ws.weights[-1].movedim(2, 1).flatten(2)  # (B, n_{L-1}, n_L K C)
                features[0] = torch.cat([features[0], self.io_scales[0] * rows], dim=-1)
                features[-1] = torch.cat([features[-1], self.io_scales[1] * columns], dim=-1)
            return features
        h = self.body(ws)
        h = WeightSpace(
            tuple(torch.cat(pair, dim=-1) for pair in zip(h.weights, ws.weights, strict=True)),
            tuple(torch.cat(pair, dim=-1) for pair in zip(h.biases, ws.biases, strict=True)),
        )  # channels: hidden_channels + 1
        last = len(self.neuron_heads) - 1
        features = []
        for i, head in enumerate(self.neuron_heads):
            weight_in, weight_out = h.weights[i], h.weights[i + 1].movedim(2, 1)
            if self.io_features and i == 0:
                incoming = self.input_rows(weight_in.flatten(2))  # (B, n, C)
            else:
                incoming = weight_in.flatten(2, -2).mean(dim=2)  # (B, n, C)
            if self.io_features and i == last:
                outgoing = self.output_columns(weight_out.flatten(2))  # (B, n, C)
            else:
                outgoing = weight_out.flatten(2, -2).mean(dim=2)  # (B, n, C)
            features.append(head(torch.cat([h.biases[i], incoming, outgoing], dim=-1)))
        return features

    def scores(self, reference: Sequence[Tensor], other: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """Score matrices ``(B, n_l, n_l)`` from both networks' :meth:`neuron_features`."""
        scale = 1 / math.sqrt(self.feature_dim)
        return tuple(
            scale * f_ref @ f_other.transpose(1, 2)  # (B, n, n)
            for f_ref, f_other in zip(reference, other, strict=True)
        )

    def forward(self, reference: WeightSpace, other: WeightSpace) -> tuple[Tensor, ...]:
        return self.scores(self.neuron_features(reference), self.neuron_features(other))


def sinkhorn(scores: Tensor, num_iters: int = 20, temperature: float = 1.0) -> Tensor:
    """Log of the Sinkhorn normalization of ``exp(scores / temperature)``.

    Args:
        scores: ``(B, n, n)``.

    Returns:
        ``(B, n, n)`` log-probabilities whose exponential is (nearly) doubly stochastic.
    """
    log_p = scores / temperature
    for _ in range(num_iters):
        log_p = log_p - log_p.logsumexp(dim=2, keepdim=True)  # rows sum to one
        log_p = log_p - log_p.logsumexp(dim=1, keepdim=True)  # columns sum to one
    return log_p


def soft_permute(ws: WeightSpace, soft: Sequence[Tensor]) -> WeightSpace:
    """Apply (soft) permutation matrices: ``W_i <- P_i W_i P_{i-1}^T``, ``b_i <- P_i b_i``.

    With one-hot ``P_i[:, j, perm[:, j]] = 1`` this is :func:`weightnet.symmetry.permute`.

    Args:
        ws: ``B`` networks, any channel count.
        soft: one ``(B, n_i, n_i)`` matrix per hidden layer.
    """
    if len(soft) != len(ws) - 1:
        raise SpecError(f"{len(soft)} matrices for {len(ws) - 1} hidden layers")
    weights, biases = list(ws.weights), list(ws.biases)
    for i, p in enumerate(soft):
        p = p.to(ws.dtype)
        weights[i] = torch.einsum("bjk,bk...->bj...", p, weights[i])  # rows of layer i
        biases[i] = torch.einsum("bjk,bkc->bjc", p, biases[i])
        weights[i + 1] = torch.einsum("bjk,bok...->boj...", p, weights[i + 1])  # columns
    return WeightSpace(tuple(weights), tuple(biases))


def planted_pairs(
    spec: WeightSpec, ws: WeightSpace, generator: torch.Generator | None = None, noise: float = 0.0
) -> tuple[WeightSpace, tuple[Tensor, ...]]:
    """Self-supervised training pairs: ``other = P ws + noise`` and the permutations undoing ``P``.

    Returns:
        ``other`` and, per hidden layer, the ``(B, n_l)`` permutations ``target`` with
        ``permute(other, target) == ws`` (up to the noise).
    """
    perms = sample_permutations(spec, ws.batch_size, generator)
    other = permute(ws, perms)
    if noise > 0:
        other = other.map(lambda t: t + noise * torch.randn(t.shape, generator=generator).to(t))
    return other, invert_permutations(perms)


def alignment_loss(
    scores: Sequence[Tensor],
    reference: WeightSpace,
    other: WeightSpace,
    target: Sequence[Tensor] | None = None,
    *,
    num_iters: int = 20,
    temperature: float = 1.0,
) -> Tensor:
    """Training loss of a learned aligner.

    With ``target`` (planted permutations), the cross-entropy of each reference neuron's
    Sinkhorn row against its true partner; without, the mean squared distance between
    ``reference`` and ``other`` softly permuted by the Sinkhorn matrices.
    """
    log_ps = [sinkhorn(s, num_iters, temperature) for s in scores]
    if target is not None:
        return torch.stack(
            [
                -lp.gather(2, t.to(lp.device)[..., None]).mean()
                for lp, t in zip(log_ps, target, strict=True)
            ]
        ).mean()
    moved = soft_permute(other, [lp.exp() for lp in log_ps])
    return ((reference.flatten() - moved.flatten()) ** 2).mean()


def _features(model: LearnedAligner, ws: WeightSpace, chunk: int | None) -> list[Tensor]:
    """:meth:`LearnedAligner.neuron_features` in eval mode, ``chunk`` networks per body pass."""
    was_training = model.training
    model.eval()
    step = chunk or ws.batch_size
    parts = [model.neuron_features(ws[i : i + step]) for i in range(0, ws.batch_size, step)]
    model.train(was_training)
    return [torch.cat(layer) for layer in zip(*parts, strict=True)]  # (B, n_l, d) per layer


@torch.no_grad()
def learned_alignment(
    model: LearnedAligner, reference: WeightSpace, other: WeightSpace, chunk: int | None = 64
) -> MatchResult:
    """Align ``other`` to ``reference`` with a trained aligner, rounding scores with LSA.

    Args:
        model: a trained aligner.
        reference: ``B`` networks to align to.
        other: ``B`` networks to permute.
        chunk: networks per pass of the aligner's body (``None``: all at once). Passes of a
            few dozen networks stay in the CPU caches and are about twice as fast per network
            as one pass over hundreds; on a GPU, ``None`` is usually faster.

    Returns:
        The permutations and ``permute(other, perms)`` (exactly ``other``'s functions).
    """
    both = _features(model, WeightSpace.collate([reference, other]), chunk)  # one body pass
    batch = reference.batch_size
    scores = model.scores([f[:batch] for f in both], [f[batch:] for f in both])
    perms = round_scores(scores)
    return MatchResult(perms, permute(other, perms))


def round_scores(scores: Sequence[Tensor]) -> tuple[Tensor, ...]:
    """The ``(B, n_l)`` permutations maximizing each ``(B, n_l, n_l)`` score matrix (LSA).

    Where the rows' maxima already lie in distinct columns, they are the optimum and
    ``linear_sum_assignment`` is skipped. No Sinkhorn normalization is needed first: it
    subtracts row and column potentials from the scores, which shifts every permutation's
    total by the same constant and so leaves the optimum unchanged.
    """
    perms = []
    for layer_scores in scores:
        layer_scores = layer_scores.detach().cpu()
        best = layer_scores.argmax(dim=2)  # (B, n)
        n = best.shape[1]
        distinct = (best.sort(dim=1).values == torch.arange(n)).all(dim=1)  # (B,)
        todo = torch.nonzero(~distinct).flatten()
        if len(todo):
            costs = layer_scores[todo].double().numpy()  # (b, n, n), one conversion
            cols = [linear_sum_assignment(cost, maximize=True)[1] for cost in costs]
            best[todo] = torch.from_numpy(np.stack(cols))  # (b, n)
        perms.append(best)  # (B, n)
    return tuple(perms)


@torch.no_grad()
def align_pairs(
    model: LearnedAligner, networks: WeightSpace, pairs: Tensor, chunk: int | None = 64
) -> tuple[Tensor, ...]:
    """Permutations aligning ``networks[pairs[k, 1]]`` to ``networks[pairs[k, 0]]`` for every ``k``.

    The body runs once per network, however many pairs it belongs to.

    Args:
        model: a trained aligner.
        networks: ``U`` networks (as the aligner reads them, e.g. normalized).
        pairs: ``(M, 2)`` long tensor of (reference, other) indices into ``networks``.
        chunk: networks per pass of the body, as in :func:`learned_alignment`.

    Returns:
        One ``(M, n_l)`` permutation per hidden layer: ``permute(networks[pairs[:, 1]], perms)``
        is aligned to ``networks[pairs[:, 0]]`` and computes exactly its original function.
    """
    features = _features(model, networks, chunk)  # (U, n_l, d) per layer
    pairs = pairs.to(features[0].device)
    scores = model.scores([f[pairs[:, 0]] for f in features], [f[pairs[:, 1]] for f in features])
    return round_scores(scores)
