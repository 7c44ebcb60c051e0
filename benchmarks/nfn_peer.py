"""The ``nfn`` package's invariant NP / HNP networks (Zhou et al. 2023) as weightnet models.

NFN's own classifier layout: ``num_layers`` x (``NPLinear`` with io embeddings, or
``HNPLinear``; ReLU), ``NPPool`` / ``HNPPool``, then a head ``Linear -> ReLU -> Linear``,
all from the PyPI package (``pip install nfn``, in ``[dev]``). :class:`NFNPackageMetanet`
takes a weightnet :class:`~weightnet.WeightSpace` (channels last) and hands the package
its channels-first ``WeightSpaceFeatures``, so ``train.py`` trains the peer through the very
same loop, data, splits and budget as weightnet's own models::

    python train.py task=inr_classification model=nfn_np \\
        model._target_=benchmarks.nfn_peer.NFNPackageMetanet

(``train.py`` puts the repository root on ``sys.path``, which makes ``benchmarks`` importable.)
"""

from __future__ import annotations

from torch import Tensor, nn

from weightnet.testing import random_weightspace
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["NFNPackageMetanet", "peer_inputs", "peer_network"]


def peer_inputs(ws: WeightSpace):
    """weightnet's channels-last WeightSpace -> nfn's channels-first WeightSpaceFeatures."""
    from nfn.common import WeightSpaceFeatures

    return WeightSpaceFeatures(
        [w.movedim(-1, 1).contiguous() for w in ws.weights],  # (B, C, n_out, n_in)
        [b.movedim(-1, 1).contiguous() for b in ws.biases],  # (B, C, n_out)
    )


def peer_network(
    spec: WeightSpec,
    mode: str,
    hidden: int,
    num_layers: int,
    head_hidden: int,
    out_features: int = 1,
    dropout: float = 0.0,
    in_channels: int = 1,
) -> nn.Module:
    """NFN's invariant network built from the ``nfn`` package's layers, for ``spec``."""
    from nfn.common import network_spec_from_wsfeat
    from nfn.layers import HNPLinear, HNPPool, NPLinear, NPPool, TupleOp

    nfn_spec = network_spec_from_wsfeat(peer_inputs(random_weightspace(spec, 1)))
    layers: list[nn.Module] = []
    for i in range(num_layers):
        c_in = in_channels if i == 0 else hidden
        if mode == "np":
            layers.append(NPLinear(nfn_spec, c_in, hidden, io_embed=True))
        else:
            layers.append(HNPLinear(nfn_spec, c_in, hidden))
        layers.append(TupleOp(nn.ReLU()))
    pool = NPPool if mode == "np" else HNPPool
    layers += [
        pool(nfn_spec),
        nn.Flatten(start_dim=-2),
        nn.Linear(pool.get_num_outs(nfn_spec) * hidden, head_hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(head_hidden, out_features),
    ]
    return nn.Sequential(*layers)


class NFNPackageMetanet(nn.Module):
    """The ``nfn`` package's NP or HNP network, reading weightnet WeightSpaces.

    Takes the arguments of weightnet's ``model=nfn_np`` / ``nfn_hnp`` configs (``bf16`` is
    accepted and ignored: the package computes in float32).

    Args:
        spec: the architecture of the input networks.
        out_features: size of the prediction.
        hidden_channels: channels of the NF layers.
        num_layers: number of NF layers.
        mode: ``"np"`` or ``"hnp"``.
        head_hidden: width of the head (default ``4 * hidden_channels``, as ours).
        dropout: dropout in the head.
        in_channels: channels of the input weight space (``1 + P`` with probe features).
    """

    def __init__(
        self,
        spec: WeightSpec,
        out_features: int = 1,
        hidden_channels: int = 16,
        num_layers: int = 3,
        mode: str = "np",
        head_hidden: int | None = None,
        dropout: float = 0.0,
        bf16: bool = False,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        self.network = peer_network(
            spec,
            mode,
            hidden_channels,
            num_layers,
            head_hidden or 4 * hidden_channels,
            out_features,
            dropout,
            in_channels,
        )

    def forward(self, ws: WeightSpace) -> Tensor:
        return self.network(peer_inputs(ws))  # (B, out_features)
