"""Classify the image an implicit neural representation encodes, from its weights alone.

The DWSNets / NFN benchmark (MNIST, Fashion-MNIST, CIFAR INRs): a metanet maps an
INR's weights to class logits; cross-entropy loss, accuracy metric. After testing,
the test confusion matrix is saved as ``confusion_matrix.png`` in the run directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from weightnet.tasks.base import MetanetTask, OptimizerFactory, SchedulerFactory
from weightnet.weightspace import WeightSpace

__all__ = ["InrClassificationTask"]


class InrClassificationTask(MetanetTask):
    """Predict an INR's class from its weights.

    Batches are ``(WeightSpace, labels (B,))`` (labels may come as floats from
    ``metrics.csv``), or soft labels ``(B, num_classes)`` in training with weight-space
    MixUp; the model maps the weight space to ``(B, num_classes)`` logits.
    Metric: ``acc`` (micro-averaged accuracy).

    Args:
        model: metanetwork with ``num_classes`` outputs.
        optimizer: factory called with the parameters.
        scheduler: optional epoch-wise learning-rate scheduler factory.
        num_classes: number of classes.
        label_smoothing: of the cross-entropy.
        confusion_matrix: file name of the test confusion matrix picture in the run
            directory (``trainer.default_root_dir``); ``None``: no picture.
        model_config: plain description of the model, kept in checkpoints.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        num_classes: int = 10,
        label_smoothing: float = 0.0,
        confusion_matrix: str | None = "confusion_matrix.png",
        model_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.num_classes = int(num_classes)
        super().__init__(model, optimizer, scheduler, model_config)
        self.label_smoothing = float(label_smoothing)
        self.confusion_matrix_file = confusion_matrix
        self.test_confusion = MulticlassConfusionMatrix(self.num_classes)

    def make_metrics(self) -> MetricCollection:
        return MetricCollection({"acc": MulticlassAccuracy(self.num_classes, average="micro")})

    def forward(self, inputs: WeightSpace) -> Tensor:
        """Class probabilities, ``(B, num_classes)``."""
        return torch.softmax(self.model(inputs), dim=-1)

    def model_step(self, batch: tuple[WeightSpace, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        ws, targets = batch
        logits = self.model(ws)  # (B, num_classes)
        if targets.ndim == 2:  # soft labels (weight-space MixUp): metrics read the larger part
            loss = F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)
            labels = targets.argmax(dim=-1)
        else:
            labels = targets.long()  # (B,)
            loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        if self._trainer is not None and self.trainer.testing:
            self.test_confusion.update(logits.detach(), labels)
        return loss, logits.detach(), labels

    def on_test_epoch_start(self) -> None:
        self.test_confusion.reset()

    def on_test_epoch_end(self) -> None:
        """Save the test confusion matrix picture (rank zero only)."""
        from weightnet.plots import confusion_matrix_figure, save_figure

        matrix = self.test_confusion.compute().cpu().numpy()
        if self.confusion_matrix_file and self.trainer.is_global_zero:
            path = Path(self.trainer.default_root_dir) / self.confusion_matrix_file
            acc = matrix.trace() / max(matrix.sum(), 1)
            save_figure(confusion_matrix_figure(matrix, title=f"test, accuracy {acc:.3f}"), path)
