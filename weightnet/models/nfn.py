"""NFN (Zhou et al. 2023): NP or HNP layers, NPPool / HNPPool, MLP head."""

from __future__ import annotations

from functools import partial

from weightnet.models.equivariant import InvariantMetanet
from weightnet.nn.nfn import HNPLinear, NPLinear
from weightnet.weightspace import SpecError, WeightSpec

__all__ = ["NFN"]


class NFN(InvariantMetanet):
    """Invariant neural functional.

    Args:
        spec: the architecture of the input networks.
        out_features: size of the prediction.
        mode: ``"np"`` (NP layers with learned io embeddings, NPPool) or ``"hnp"``
            (HNP layers, HNPPool).
        io_embed: NP only: learned input/output neuron embeddings in every layer.
        **kwargs: the other arguments of :class:`~weightnet.models.equivariant.InvariantMetanet`.
    """

    def __init__(
        self,
        spec: WeightSpec,
        out_features: int = 1,
        mode: str = "np",
        io_embed: bool = True,
        **kwargs,
    ):
        if mode not in ("np", "hnp"):
            raise SpecError(f"unknown NFN mode {mode!r}, expected 'np' or 'hnp'")
        layer = partial(NPLinear, io_embed=io_embed) if mode == "np" else HNPLinear
        super().__init__(spec, layer, mode == "hnp", out_features, **kwargs)
        self.mode = mode
