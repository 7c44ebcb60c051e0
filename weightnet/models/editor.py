"""Weight-space editors: equivariant body plus an equivariant projection back to one channel."""

from __future__ import annotations

from torch import nn

from weightnet.models.equivariant import EquivariantBody
from weightnet.nn.dws import DWSLinear
from weightnet.nn.nfn import HNPLinear, NPLinear
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["EDITOR_LAYERS", "EquivariantEditor"]

#: Equivariant layer of each editable model name (``dws``, ``nfn_np``, ``nfn_hnp``).
EDITOR_LAYERS = {"dws": DWSLinear, "nfn_np": NPLinear, "nfn_hnp": HNPLinear}


class EquivariantEditor(nn.Module):
    """Maps weights to an equivariant edit ``delta`` of the same shape (``out_channels``).

    ``body`` is the same equivariant stack as in :class:`DWSNet` / :class:`NFN`;
    ``projection`` is one more equivariant layer from the hidden channels to
    ``out_channels``, initialised to zero so that training starts from ``delta == 0``.
    Use ``ws + editor(ws)`` as the edited networks.

    Args:
        spec: the architecture of the input networks.
        kind: ``"dws"``, ``"nfn_np"`` or ``"nfn_hnp"``.
        hidden_channels: channels of the body.
        num_layers: number of equivariant layers in the body.
        dropout: dropout in the body.
        in_channels: channels of the input weight space.
        out_channels: channels of the edit (1 for network weights).
        activation: nonlinearity of the body.

    Shapes:
        input: ``WeightSpace`` with ``in_channels`` channels; output: ``out_channels``.
    """

    def __init__(
        self,
        spec: WeightSpec,
        kind: str = "dws",
        hidden_channels: int = 32,
        num_layers: int = 3,
        dropout: float = 0.0,
        in_channels: int = 1,
        out_channels: int = 1,
        activation: str = "relu",
    ):
        super().__init__()
        if kind not in EDITOR_LAYERS:
            raise SpecError(
                f"no editor for model {kind!r}, expected one of {sorted(EDITOR_LAYERS)}"
            )
        layer = EDITOR_LAYERS[kind]
        self.kind = kind
        self.body = EquivariantBody(
            spec, layer, in_channels, hidden_channels, num_layers, dropout, activation
        )
        self.projection = layer(spec, hidden_channels, out_channels)
        self.reset_projection()

    def reset_projection(self) -> None:
        """Zero the projection's linear maps, so that the initial edit is zero."""
        for name, p in self.projection.named_parameters():
            if not name.startswith("embeddings"):
                nn.init.zeros_(p)

    def reset_parameters(self) -> None:
        self.body.reset_parameters()
        self.reset_projection()

    def forward(self, ws: WeightSpace) -> WeightSpace:
        return self.projection(self.body(ws))
