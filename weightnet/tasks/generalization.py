"""Predict a network's test accuracy from its weights (Unterthiner et al. 2020)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import CatMetric, MeanSquaredError, MetricCollection
from torchmetrics.functional import kendall_rank_corrcoef
from torchmetrics.regression import KendallRankCorrCoef, R2Score

from weightnet.tasks.base import MetanetTask, OptimizerFactory, SchedulerFactory
from weightnet.weightspace import WeightSpace

__all__ = ["GeneralizationTask", "LOSSES", "kendall_tau_interval"]

#: Loss names: ``mse`` on the sigmoid output, or ``bce`` (binary cross-entropy with the
#: accuracy as a soft label, on the logit).
LOSSES = ("mse", "bce")


def kendall_tau_interval(
    preds: np.ndarray, targets: np.ndarray, resamples: int = 1000, seed: int = 0
) -> list[float | None]:
    """Bootstrap 95% percentile interval ``[low, high]`` of Kendall's tau-b over networks.

    The networks are resampled with replacement ``resamples`` times (seeded); a resample
    whose predictions or targets are all equal has no tau and is left out. ``[None, None]``
    when no resample has one (e.g. fewer than two networks).
    """
    from scipy.stats import ConstantInputWarning, kendalltau

    preds, targets = np.asarray(preds, np.float64), np.asarray(targets, np.float64)
    if len(preds) < 2:
        return [None, None]
    picks = np.random.default_rng(seed).integers(0, len(preds), (resamples, len(preds)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        taus = np.array([kendalltau(preds[i], targets[i]).statistic for i in picks])
    taus = taus[np.isfinite(taus)]
    if len(taus) == 0:
        return [None, None]
    return [float(v) for v in np.percentile(taus, [2.5, 97.5])]


class GeneralizationTask(MetanetTask):
    """Regress a target in ``[0, 1]`` (test accuracy) from weights through a sigmoid.

    Batches are ``(WeightSpace, targets (B,))``; the model maps the weight space to
    ``(B, 1)`` logits. Metrics: ``kendall_tau`` (tau-b), ``r2``, ``mse``. When the inputs
    carry a ``group`` field (graph batches of a mixed zoo, see
    :class:`~weightnet.data.hetero.HeteroZooDataModule`), the test also logs
    ``test/kendall_tau/<name>`` per group (names from the datamodule's ``group_names``).
    After testing, :attr:`test_intervals` holds a bootstrap 95% interval of the test
    Kendall tau (:func:`kendall_tau_interval`), which ``train.py`` writes to ``results.json``.

    Args:
        model: metanetwork with one output.
        optimizer: factory called with the parameters.
        scheduler: optional epoch-wise learning-rate scheduler factory.
        loss: ``"mse"`` or ``"bce"``.
        model_config: plain description of the model, kept in checkpoints.
        predictions_plot: file name of the predicted vs true scatter of the whole test set
            (:func:`weightnet.plots.prediction_scatter`), saved after testing in the
            trainer's ``default_root_dir`` by the first process; ``None``: no picture.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        loss: str = "mse",
        model_config: Mapping[str, Any] | None = None,
        predictions_plot: str | None = None,
    ) -> None:
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        self.loss_name = loss
        self.predictions_plot = predictions_plot
        super().__init__(model, optimizer, scheduler, model_config)
        # every test prediction and target (gathered from all processes under DDP)
        self.test_preds = CatMetric()
        self.test_targets = CatMetric()
        self.test_groups = CatMetric()
        self._batch_groups: Tensor | None = None
        #: after testing: a bootstrap 95% interval per metric (``{"test/kendall_tau": [lo, hi]}``)
        self.test_intervals: dict[str, list[float | None]] = {}

    def make_metrics(self) -> MetricCollection:
        return MetricCollection(
            {"kendall_tau": KendallRankCorrCoef(), "r2": R2Score(), "mse": MeanSquaredError()}
        )

    def forward(self, inputs: WeightSpace) -> Tensor:
        """Predicted target in ``[0, 1]``, shape ``(B,)``."""
        return torch.sigmoid(self.model(inputs).squeeze(-1))

    def model_step(self, batch: tuple[WeightSpace, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        ws, targets = batch
        self._batch_groups = getattr(ws, "group", None)
        logits = self.model(ws).squeeze(-1)  # (B,)
        preds = torch.sigmoid(logits)
        if self.loss_name == "bce":
            loss = F.binary_cross_entropy_with_logits(logits, targets)
        else:
            loss = F.mse_loss(preds, targets)
        return loss, preds.detach(), targets

    def collect_outputs(self, split: str, preds: Tensor, targets: Tensor) -> None:
        groups = self._batch_groups
        if split == "test":
            self.test_preds.update(preds)
            self.test_targets.update(targets)
            if groups is not None:
                self.test_groups.update(groups.to(preds.dtype))

    def on_test_epoch_end(self) -> None:
        if not self.test_preds.update_count:
            return
        preds, targets = self.test_preds.compute(), self.test_targets.compute()  # (N,) each
        self.test_preds.reset()
        self.test_targets.reset()
        self.test_intervals = {
            "test/kendall_tau": kendall_tau_interval(preds.cpu().numpy(), targets.cpu().numpy())
        }
        if self.test_groups.update_count:
            self._log_group_taus(preds, targets, self.test_groups.compute().long())
            self.test_groups.reset()
        if not self.predictions_plot:
            return
        from weightnet.plots import prediction_scatter, save_figure

        if self.trainer.is_global_zero and preds.numel() > 1:
            tau = float(kendall_rank_corrcoef(preds, targets))
            figure = prediction_scatter(preds.cpu().numpy(), targets.cpu().numpy(), tau)
            save_figure(figure, Path(self.trainer.default_root_dir) / self.predictions_plot)

    def _log_group_taus(self, preds: Tensor, targets: Tensor, groups: Tensor) -> None:
        """Log ``test/kendall_tau/<group name>`` for every group with two or more networks."""
        names = getattr(getattr(self.trainer, "datamodule", None), "group_names", None) or []
        for group in torch.unique(groups).tolist():
            mask = groups == group
            if int(mask.sum()) < 2:
                continue
            name = names[group] if group < len(names) else str(group)
            tau = kendall_rank_corrcoef(preds[mask], targets[mask])
            self.log(f"test/kendall_tau/{name}", torch.nan_to_num(tau), sync_dist=False)
