"""DWSNet: DWS layers (Navon et al. 2023), invariant pooling that keeps io neurons, MLP head."""

from __future__ import annotations

from weightnet.models.equivariant import InvariantMetanet
from weightnet.nn.dws import DWSLinear
from weightnet.weightspace import WeightSpec

__all__ = ["DWSNet"]


class DWSNet(InvariantMetanet):
    """Invariant DWS metanetwork; see :class:`~weightnet.models.equivariant.InvariantMetanet`
    for the arguments (all but ``layer`` and ``fixed_io``, which this class sets)."""

    def __init__(self, spec: WeightSpec, out_features: int = 1, **kwargs):
        super().__init__(spec, DWSLinear, True, out_features, **kwargs)
