"""The LightningModule every weightnet task builds on.

A task receives an already-built metanetwork and optimizer / scheduler factories
(``functools.partial`` objects, e.g. from Hydra configs with ``_partial_: true``).
It constructs neither data nor models. Subclasses implement :meth:`model_step`
(loss, predictions, targets of one batch) and :meth:`make_metrics` (a
torchmetrics ``MetricCollection``); the base class runs the shared train / val /
test steps and logs ``"{split}/loss"`` and ``"{split}/{metric}"``, where val and test
metrics accumulate over the whole epoch (and over all processes under DDP) before they
are computed. :meth:`collect_outputs` sees every batch's predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor, nn
from torch.optim import Optimizer
from torchmetrics import MeanMetric, MetricCollection

from weightnet.errors import WeightnetError

__all__ = ["MetanetTask", "NonFiniteLossError", "OptimizerFactory", "SchedulerFactory"]


class NonFiniteLossError(WeightnetError):
    """The training loss became NaN or Inf: training stops instead of saving useless weights."""


#: ``params -> Optimizer``, e.g. ``functools.partial(torch.optim.AdamW, lr=1e-3)``.
OptimizerFactory = Callable[[Iterable[nn.Parameter]], Optimizer]
#: ``optimizer -> LRScheduler``, stepped once per epoch.
SchedulerFactory = Callable[[Optimizer], Any]


class MetanetTask(pl.LightningModule):
    """Shared training logic of the weightnet tasks.

    Args:
        model: the metanetwork (an ``nn.Module`` taking a batch's inputs).
        optimizer: factory called with the model's parameters.
        scheduler: optional factory called with the optimizer; stepped every epoch.
        model_config: a plain description of how ``model`` was built (e.g. its resolved
            Hydra config); stored in the checkpoint's hyperparameters so that a trained
            metanet can be rebuilt without the training code.

    Attributes:
        train_samples_seen: number of training examples processed so far in this process.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        model_config: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # only plain values go to the checkpoint (loadable with weights_only=True)
        self.save_hyperparameters(ignore=["model", "optimizer", "scheduler"], logger=False)
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        metrics = self.make_metrics()
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        # val / test loss: the mean over every example of all processes (exact under DDP)
        self.eval_losses = nn.ModuleDict({"val": MeanMetric(), "test": MeanMetric()})
        self.train_samples_seen = 0

    # ------------------------------------------------------- task interface
    def make_metrics(self) -> MetricCollection:
        """The task's metrics (cloned per split, names without the split prefix)."""
        raise NotImplementedError

    def model_step(self, batch: Any) -> tuple[Tensor, Tensor, Tensor]:
        """``(loss, predictions, targets)`` of one batch; predictions feed the metrics."""
        raise NotImplementedError

    def collect_outputs(self, split: str, preds: Tensor, targets: Tensor) -> None:
        """Called with every batch's predictions and targets (e.g. to draw test-set figures)."""

    def forward(self, inputs: Any) -> Tensor:
        return self.model(inputs)

    # ------------------------------------------------------- shared steps
    def _shared_step(self, batch: Any, split: str) -> Tensor:
        loss, preds, targets = self.model_step(batch)
        if split == "train" and not bool(torch.isfinite(loss.detach())):
            raise NonFiniteLossError(
                f"training loss is {loss.item()} at epoch {self.current_epoch}, step "
                f"{self.global_step}: stopped (lower the learning rate, or look for NaN/Inf "
                f"weights or targets in the zoo)"
            )
        metrics = getattr(self, f"{split}_metrics")
        metrics.update(preds, targets)
        batch_size = len(targets)
        train = split == "train"
        if not train:
            self.eval_losses[split].update(loss.detach(), weight=batch_size)
        self.log(
            f"{split}/loss",
            loss if train else self.eval_losses[split],
            on_step=train,
            on_epoch=True,
            prog_bar=True,
            batch_size=batch_size,
        )
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=batch_size)
        self.collect_outputs(split, preds, targets)
        if train:
            self.train_samples_seen += batch_size
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> Tensor:
        return self._shared_step(batch, "test")

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"},
        }
