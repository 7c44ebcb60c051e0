r"""DWSNets layer (Navon et al. 2023, "Equivariant Architectures for Learning in Deep Weight Spaces").

The layer sums the weight->weight, weight->bias, bias->weight and bias->bias blocks of
the characterized basis: pointwise terms, pooling over rows, columns and whole tensors,
and the interactions with the neighbouring layers (see :mod:`weightnet.nn.linear`).
As in DWSNets the input and output neurons are not permutable. They are kept as an
axis with position-specific weights for the terms that map a position to itself, while
the terms that mix positions are pooled; this costs ``O(n_in)`` instead of the
``O(n_in^2)`` of folding the axis into the features (that complete version is
:class:`~weightnet.nn.nfn.HNPLinear`).
"""

from __future__ import annotations

from weightnet.nn.linear import WeightSpaceLinear
from weightnet.weightspace import WeightSpec

__all__ = ["DWSLinear"]


class DWSLinear(WeightSpaceLinear):
    r"""DWS equivariant linear layer between weight spaces.

    Args:
        spec: the architecture.
        in_channels: input channels.
        out_channels: output channels.

    Shapes:
        input: ``WeightSpace`` with ``in_channels`` channels; output: ``out_channels``.
    """

    def __init__(self, spec: WeightSpec, in_channels: int, out_channels: int):
        super().__init__(spec, in_channels, out_channels, io="untied")
