import numpy as np
import pytest
import torch

from weightnet.nn.statistics import LayerStatistics
from weightnet.testing import (
    assert_invariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    random_weightspace,
)


@pytest.mark.parametrize("spec", [mlp_spec((3, 5, 4, 2)), cnn_spec()], ids=["mlp", "cnn"])
def test_invariant_and_sensitive(spec):
    stats = LayerStatistics(spec, channels=1)
    ws = random_weightspace(spec, batch_size=3)
    assert_invariant(stats, spec, ws, atol=1e-6)
    assert_sensitive(stats, spec, ws)
    assert stats(ws).shape == (3, 2 * len(spec) * 7)


def test_values_match_numpy():
    spec = mlp_spec((3, 5, 4, 2))
    ws = random_weightspace(spec, batch_size=2, channels=2)
    feats = LayerStatistics(spec, channels=2)(ws)  # (2, 6 * 2 * 7)
    w = ws.weights[1][1, ..., 1].numpy().ravel()
    expected = [w.mean(), w.var(), *np.quantile(w, [0, 0.25, 0.5, 0.75, 1])]
    start = 2 * 14 + 7  # third tensor (weight1), second channel
    np.testing.assert_allclose(feats[1, start : start + 7].numpy(), expected, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(feats).all()
