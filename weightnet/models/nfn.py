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
        bf16: the layers' large CPU products with bfloat16 factors (opt-in; see
            :mod:`weightnet.nn.gemm`).
        **kwargs: the other arguments of :class:`~weightnet.models.equivariant.InvariantMetanet`.
    """

    def __init__(
        self,
        spec: WeightSpec,
        out_features: int = 1,
        mode: str = "np",
        io_embed: bool = True,
        bf16: bool = False,
        **kwargs,
    ):
        if mode not in ("np", "hnp"):
            raise SpecError(f"unknown NFN mode {mode!r}, expected 'np' or 'hnp'")
        if mode == "np":
            layer = partial(NPLinear, io_embed=io_embed, bf16=bf16)
        else:
            layer = partial(HNPLinear, bf16=bf16)
        super().__init__(spec, layer, mode == "hnp", out_features, **kwargs)
        self.mode = mode
