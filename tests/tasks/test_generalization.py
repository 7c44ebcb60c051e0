import functools

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from scipy.stats import kendalltau
from sklearn.metrics import r2_score
from torch import nn
from torch.utils.data import DataLoader

from weightnet.tasks import GeneralizationTask
from weightnet.tasks.generalization import kendall_tau_interval
from weightnet.testing import mlp_spec, random_weightspace


class LastBiasLogit(nn.Module):
    """A fixed 'metanet': the logit is the first output bias of each network."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, ws):
        return ws.biases[-1][:, :1, 0]  # (B, 1)


def _batches(num_batches=4, batch_size=5, seed=0):
    spec = mlp_spec((3, 4, 2))
    gen = torch.Generator().manual_seed(seed)
    out = []
    for b in range(num_batches):
        ws = random_weightspace(spec, batch_size=batch_size, seed=seed + b, scale=2.0)
        out.append((ws, torch.rand(batch_size, generator=gen)))
    return out


def _loader(batches):
    return DataLoader(batches, batch_size=None, collate_fn=lambda batch: batch)


def _task(model, loss="mse"):
    return GeneralizationTask(model, functools.partial(torch.optim.SGD, lr=0.1), loss=loss)


def _trainer():
    return pl.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, max_epochs=1,
    )  # fmt: skip


def test_epoch_metrics_equal_scipy_and_sklearn_on_all_batches():
    batches = _batches()
    task = _task(LastBiasLogit())
    (result,) = _trainer().validate(task, dataloaders=_loader(batches), verbose=False)
    preds = torch.cat([torch.sigmoid(ws.biases[-1][:, 0, 0]) for ws, _ in batches]).numpy()
    targets = torch.cat([t for _, t in batches]).numpy()
    assert result["val/kendall_tau"] == pytest.approx(
        kendalltau(preds, targets).statistic, abs=1e-6
    )
    assert result["val/r2"] == pytest.approx(r2_score(targets, preds), abs=1e-5)
    assert result["val/mse"] == pytest.approx(np.mean((preds - targets) ** 2), abs=1e-6)
    assert result["val/loss"] == pytest.approx(np.mean((preds - targets) ** 2), abs=1e-6)
    per_batch = np.mean(
        [kendalltau(preds[i : i + 5], targets[i : i + 5]).statistic for i in (0, 5, 10, 15)]
    )
    assert result["val/kendall_tau"] != pytest.approx(per_batch, abs=1e-3)


def test_bce_loss_uses_accuracy_as_soft_label():
    ws, targets = _batches(num_batches=1)[0]
    logits = ws.biases[-1][:, 0, 0]
    loss, preds, _ = _task(LastBiasLogit(), loss="bce").model_step((ws, targets))
    expected = -(
        targets * torch.log(torch.sigmoid(logits))
        + (1 - targets) * torch.log(1 - torch.sigmoid(logits))
    )
    torch.testing.assert_close(loss, expected.mean())
    torch.testing.assert_close(preds, torch.sigmoid(logits))


def test_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        _task(LastBiasLogit(), loss="l1")


def test_training_logs_every_split_and_counts_samples():
    from weightnet.models import StatNN

    spec = mlp_spec((3, 4, 2))
    task = GeneralizationTask(
        StatNN(spec, out_features=1, hidden_channels=8, num_layers=1),
        functools.partial(torch.optim.AdamW, lr=1e-2),
        scheduler=functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=2),
    )
    trainer = _trainer()
    trainer.fit_loop.max_epochs = 2
    trainer.fit(
        task, train_dataloaders=_loader(_batches()), val_dataloaders=_loader(_batches(2, seed=9))
    )
    logged = trainer.callback_metrics
    for key in ("train/loss_epoch", "train/kendall_tau", "val/kendall_tau", "val/r2", "val/mse"):
        assert torch.isfinite(logged[key])
    assert task.train_samples_seen == 2 * 20
    (test,) = trainer.test(task, dataloaders=_loader(_batches(2, seed=5)), verbose=False)
    assert set(test) == {"test/loss", "test/kendall_tau", "test/r2", "test/mse"}


def test_the_bootstrap_interval_of_tau_narrows_with_more_networks():
    rng = np.random.default_rng(0)
    targets = rng.uniform(size=400)
    preds = targets + 0.3 * rng.standard_normal(400)
    few, many = kendall_tau_interval(preds[:40], targets[:40]), kendall_tau_interval(preds, targets)
    assert few[0] < kendalltau(preds[:40], targets[:40]).statistic < few[1]
    assert many[0] < kendalltau(preds, targets).statistic < many[1]
    assert many[1] - many[0] < 0.6 * (few[1] - few[0])  # about 1/sqrt(10) as wide
    assert kendall_tau_interval(preds, targets) == many  # seeded
    assert kendall_tau_interval(targets[:50], targets[:50]) == pytest.approx([1.0, 1.0])
    assert kendall_tau_interval(np.ones(10), targets[:10]) == [None, None]  # no tau at all
    assert kendall_tau_interval(preds[:1], targets[:1]) == [None, None]


def test_testing_records_the_interval_of_the_test_tau():
    model = LastBiasLogit()
    task = _task(model)
    batches = _batches()
    _trainer().test(task, _loader(batches), verbose=False)
    preds = torch.cat([torch.sigmoid(model(ws)[:, 0]) for ws, _ in batches])
    targets = torch.cat([t for _, t in batches])
    expected = kendall_tau_interval(preds.numpy(), targets.numpy())
    assert task.test_intervals == {"test/kendall_tau": pytest.approx(expected)}
