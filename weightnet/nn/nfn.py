r"""Neural functional layers (Zhou et al. 2023, "Permutation Equivariant Neural Functionals").

* :class:`NPLinear`: every neuron set is permutable, inputs and outputs included (the NP
  assumption); learned positional embeddings of the input and output neurons
  (``io_embed``, as NFN's) are added to the first layer's weights and the last layer's
  weights and bias, which breaks the io symmetry again.
* :class:`HNPLinear`: input and output neurons are fixed (HNP); their axes are folded
  into the features, which gives the complete equivariant basis for that group.

Both are the fused :class:`~weightnet.nn.linear.WeightSpaceLinear` for their group.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from weightnet.nn.linear import WeightSpaceLinear
from weightnet.weightspace import WeightSpec

__all__ = ["NPLinear", "HNPLinear"]


class NPLinear(WeightSpaceLinear):
    r"""NFN NP layer: equivariant to permutations of all neurons, io included.

    Args:
        spec: the architecture.
        in_channels: input channels.
        out_channels: output channels.
        io_embed: add learned embeddings of the input/output neurons to the inputs,
            so that the layer can tell input (output) neurons apart.
        bf16: bfloat16 factors in the large CPU products (see :mod:`weightnet.nn.gemm`).

    Shapes:
        input: ``WeightSpace`` with ``in_channels`` channels; output: ``out_channels``.
    """

    def __init__(
        self,
        spec: WeightSpec,
        in_channels: int,
        out_channels: int,
        io_embed: bool = True,
        bf16: bool = False,
    ):
        self.io_embed = io_embed
        super().__init__(spec, in_channels, out_channels, io="np", bf16=bf16)
        first, last = spec.layers[0], spec.layers[-1]
        self.embeddings = nn.ParameterDict()
        if io_embed:
            shapes = {
                "input": (first.n_in, first.kernel_numel * in_channels),
                "output": (last.n_out, last.kernel_numel * in_channels),
                "output_bias": (last.n_out, in_channels),
            }
            for name, shape in shapes.items():
                self.embeddings[name] = nn.Parameter(torch.empty(shape))
            self.reset_embeddings()

    def reset_embeddings(self) -> None:
        """Standard normal embeddings, as NFN."""
        for p in self.embeddings.values():
            nn.init.normal_(p)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if getattr(self, "embeddings", None):
            self.reset_embeddings()

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, io_embed={self.io_embed}"

    def input_offsets(self) -> dict[int, tuple[Tensor | None, Tensor | None]]:
        if not self.io_embed:
            return {}
        last = 2 * len(self.spec) - 1
        offsets: dict[int, tuple[Tensor | None, Tensor | None]] = {
            0: (None, self.embeddings["input"]),  # columns of the first weight
            last: (self.embeddings["output_bias"], None),  # the last bias
        }
        row_off, col_off = offsets.get(last - 1, (None, None))
        offsets[last - 1] = (self.embeddings["output"], col_off)  # rows of the last weight
        return offsets


class HNPLinear(WeightSpaceLinear):
    r"""NFN HNP layer: equivariant to hidden-neuron permutations; io neurons are fixed.

    Args:
        spec: the architecture.
        in_channels: input channels.
        out_channels: output channels.
        bf16: bfloat16 factors in the large CPU products (see :mod:`weightnet.nn.gemm`).

    Shapes:
        input: ``WeightSpace`` with ``in_channels`` channels; output: ``out_channels``.
    """

    def __init__(self, spec: WeightSpec, in_channels: int, out_channels: int, bf16: bool = False):
        super().__init__(spec, in_channels, out_channels, io="hnp", bf16=bf16)
