"""Edit implicit neural representations through their weights (DWSNets' dilation task).

An equivariant metanet reads an INR's (normalized) weights and outputs a weight change
``delta`` of the same shape; the edited INR, rendered on the pixel grid, should show
the target image (e.g. the dilated original). The metanet sees normalized weights, so
the change is made in normalized units and mapped back before rendering:
``edited = denormalize(ws + delta)``, i.e. raw weights plus ``delta * std`` per tensor.
Loss and ``mse`` are pixel mean squared errors of the rendering; ``mse_identity`` is the
error of leaving the weights unchanged (the baseline an edit must beat). After testing,
a picture grid (original, target, edited) is saved as ``editing_examples.png``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanSquaredError, MetricCollection

from weightnet.data.normalization import WeightStats
from weightnet.inr import InrGrid, render
from weightnet.tasks.base import MetanetTask, OptimizerFactory, SchedulerFactory
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["InrEditingTask", "RenderingMSE"]


class RenderingMSE(MeanSquaredError):
    """Pixel MSE of one of several stacked renderings: ``preds (B, K, H, W)``, ``target (B, H, W)``.

    Args:
        index: which rendering ``preds[:, index]`` is compared with the target.
    """

    def __init__(self, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index

    def update(self, preds: Tensor, target: Tensor) -> None:
        super().update(preds[:, self.index].contiguous(), target)


class InrEditingTask(MetanetTask):
    """Learn a weight-space edit whose rendering matches a target image.

    Batches are ``(WeightSpace, targets (B, H, W))``. The model maps the weight space to a
    ``WeightSpace`` change with one channel (:class:`~weightnet.models.EquivariantEditor`,
    or a graph metanet with ``readout="weights"``). The architecture, normalization
    statistics and grid come from the datamodule
    (:class:`~weightnet.data.inr_dilation.InrDilationDataModule`) when training starts,
    or from :meth:`attach`.

    Args:
        model: metanetwork returning a weight change.
        optimizer: factory called with the parameters.
        scheduler: optional epoch-wise learning-rate scheduler factory.
        num_examples: test INRs shown in the picture (0: no picture).
        model_config: plain description of the model, kept in checkpoints.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        num_examples: int = 8,
        model_config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(model, optimizer, scheduler, model_config)
        self.num_examples = int(num_examples)
        self.spec: WeightSpec | None = None
        self.stats: WeightStats | None = None
        self.grid: InrGrid | None = None
        self._examples: list[Tensor] = []

    def make_metrics(self) -> MetricCollection:
        # no compute groups: at the start (zero edit) both states agree and would be merged
        return MetricCollection(
            {"mse": RenderingMSE(0), "mse_identity": RenderingMSE(1)}, compute_groups=False
        )

    def attach(self, spec: WeightSpec, stats: WeightStats | None, grid: InrGrid) -> None:
        """Set the INR architecture, the normalization statistics of the inputs and the grid."""
        self.spec, self.stats, self.grid = spec, stats, grid

    def setup(self, stage: str) -> None:
        """Take spec, statistics and grid from the trainer's datamodule unless attached."""
        if self.spec is None:
            datamodule = self.trainer.datamodule
            self.attach(datamodule.spec, datamodule.stats, datamodule.grid)

    def raw(self, ws: WeightSpace) -> WeightSpace:
        """The networks' own raw weights: channel 0 (more channels are read-only probe
        features), with the datamodule's normalization undone (if any)."""
        ws = ws if ws.channels == 1 else ws.map(lambda t: t[..., :1])
        return ws if self.stats is None else self.stats.denormalize(ws)

    def forward(self, inputs: WeightSpace) -> WeightSpace:
        """The edited networks' raw weights (the edit changes channel 0 only)."""
        weights = inputs if inputs.channels == 1 else inputs.map(lambda t: t[..., :1])
        return self.raw(weights + self.model(inputs))

    def renderings(self, ws: WeightSpace) -> tuple[Tensor, Tensor]:
        """``(B, H, W)`` renderings of the edited and of the unedited networks."""
        if self.spec is None:
            raise RuntimeError("InrEditingTask: call attach() or train with an INR datamodule")
        edited = render(self.spec, self.forward(ws), self.grid)
        with torch.no_grad():
            original = render(self.spec, self.raw(ws), self.grid)
        return edited, original

    def model_step(self, batch: tuple[WeightSpace, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        ws, targets = batch
        edited, original = self.renderings(ws)
        loss = F.mse_loss(edited, targets)
        if self._trainer is not None and self.trainer.testing:
            self._keep_examples(original, targets, edited.detach())
        return loss, torch.stack([edited.detach(), original], dim=1), targets  # (B, 2, H, W)

    def _keep_examples(self, original: Tensor, targets: Tensor, edited: Tensor) -> None:
        missing = self.num_examples - (len(self._examples[0]) if self._examples else 0)
        if missing <= 0:
            return
        parts = [t[:missing].cpu() for t in (original, targets, edited)]
        if self._examples:
            parts = [torch.cat([a, b]) for a, b in zip(self._examples, parts, strict=True)]
        self._examples = parts

    def on_test_epoch_start(self) -> None:
        self._examples = []

    def on_test_epoch_end(self) -> None:
        """Save the picture grid (original, target, edited) of the first test INRs."""
        from weightnet.plots import image_grid, save_figure

        if self._examples and self.trainer.is_global_zero:
            rows = dict(zip(("original", "target", "edited"), self._examples, strict=True))
            figure = image_grid({k: v.clamp(0, 1).numpy() for k, v in rows.items()})
            save_figure(figure, Path(self.trainer.default_root_dir) / "editing_examples.png")
