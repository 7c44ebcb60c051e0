import functools

import pytest
import torch
from torch import nn

from weightnet.data.normalization import WeightStats
from weightnet.inr import InrGrid, render
from weightnet.models import EquivariantEditor
from weightnet.tasks import InrEditingTask
from weightnet.testing import assert_equivariant, random_weightspace, siren_spec
from weightnet.weightspace import WeightSpace

SPEC = siren_spec((2, 6, 5, 1))
GRID = InrGrid(3, 4, output_offset=0.5)


class ConstantEdit(nn.Module):
    """Adds ``value`` to the last layer's bias (in normalized units)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, ws: WeightSpace) -> WeightSpace:
        zero = ws.map(torch.zeros_like)
        biases = (*zero.biases[:-1], zero.biases[-1] + self.value)
        return WeightSpace(zero.weights, biases)


def _task(model, stats=None):
    task = InrEditingTask(model, functools.partial(torch.optim.Adam, lr=1e-3))
    task.attach(SPEC, stats, GRID)
    return task


def _constant_inrs(values):
    """INRs whose output is ``value`` everywhere: zero weights, last bias = value."""
    ws = random_weightspace(SPEC, batch_size=len(values)).map(torch.zeros_like)
    last = torch.tensor(values).reshape(-1, 1, 1)
    return WeightSpace(ws.weights, (*ws.biases[:-1], last))


def test_mse_identity_on_a_hand_case():
    ws = _constant_inrs([0.2, -0.5])  # renders 0.7 and 0.0 everywhere
    targets = torch.ones(2, 3, 4)
    targets[1, 0, 0] = 0.0  # second image: one pixel at 0, eleven at 1
    task = _task(ConstantEdit(0.1))
    loss, preds, out_targets = task.model_step((ws, targets))
    expected_identity = (0.3**2 * 12 + 1.0 * 11) / 24
    metrics = task.make_metrics()
    unedited = torch.stack([preds[:, 1], preds[:, 1]], dim=1)  # (B, 2, H, W): a zero edit
    metrics.update(unedited, out_targets)  # identical states first must not merge the metrics
    metrics.update(preds, out_targets)
    values = metrics.compute()
    assert values["mse_identity"].item() == pytest.approx(expected_identity, rel=1e-6)
    expected_edit = (0.2**2 * 12 + 0.9**2 * 11 + 0.1**2) / 24  # outputs 0.8 and 0.1
    assert values["mse"].item() == pytest.approx((expected_edit + expected_identity) / 2, rel=1e-5)
    assert loss.item() == pytest.approx(expected_edit, rel=1e-5)


def test_delta_is_applied_to_the_denormalized_weights():
    raw = random_weightspace(SPEC, batch_size=4, seed=1, scale=0.3)
    stats = WeightStats(
        weight_mean=(0.1, -0.2, 0.05),
        weight_std=(0.5, 0.02, 0.3),
        bias_mean=(0.0, 0.1, 0.4),
        bias_std=(1.0, 0.2, 0.25),
    )
    normalized = stats.normalize(raw)
    task = _task(ConstantEdit(0.0), stats)
    assert task.raw(normalized).allclose(raw, atol=1e-6)
    _, preds, _ = task.model_step((normalized, torch.zeros(4, 3, 4)))
    torch.testing.assert_close(preds[:, 1], render(SPEC, raw, GRID), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(preds[:, 0], preds[:, 1])
    # a change of 2 (normalized units) in the last bias moves every pixel by 2 * bias_std
    _, preds, _ = _task(ConstantEdit(2.0), stats).model_step((normalized, torch.zeros(4, 3, 4)))
    torch.testing.assert_close(preds[:, 0] - preds[:, 1], torch.full((4, 3, 4), 0.5))


@pytest.mark.parametrize("kind", ["dws", "nfn_np", "nfn_hnp"])
def test_editor_output_is_equivariant(kind):
    torch.manual_seed(0)
    editor = EquivariantEditor(SPEC, kind=kind, hidden_channels=4, num_layers=2)
    assert all(t.abs().max() == 0 for t in editor(random_weightspace(SPEC)).tensors())
    for p in editor.projection.parameters():
        nn.init.normal_(p, std=0.3)
    ws = random_weightspace(SPEC, batch_size=3, seed=2)
    assert_equivariant(editor, SPEC, ws)
    task = _task(editor)
    assert_equivariant(task, SPEC, ws)  # the edited networks, raw weights


def test_training_reduces_the_error_below_the_identity():
    torch.manual_seed(0)
    ws = random_weightspace(SPEC, batch_size=8, seed=3, scale=0.2)
    targets = render(SPEC, ws, GRID).detach() + 0.3  # a brighter image
    task = _task(EquivariantEditor(SPEC, kind="dws", hidden_channels=8, num_layers=2))
    optimizer = torch.optim.Adam(task.parameters(), lr=1e-3)
    for _ in range(30):
        loss, preds, _ = task.model_step((ws, targets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    identity = ((preds[:, 1] - targets) ** 2).mean()
    assert identity.item() == pytest.approx(0.09, rel=1e-4)
    assert loss.item() < 0.5 * identity.item()
