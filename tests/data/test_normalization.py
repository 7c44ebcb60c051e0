import numpy as np
import pytest
import torch

from weightnet.data.normalization import WeightStats
from weightnet.testing import mlp_spec
from weightnet.weightspace import SpecError, WeightSpace


def test_statistics_match_numpy_on_the_selected_rows_only():
    spec = mlp_spec((3, 4, 2))
    rng = np.random.default_rng(0)
    weights = rng.normal(2.0, 3.0, (20, spec.num_params)).astype(np.float32)
    rows = np.array([7, 1, 3, 12])
    stats = WeightStats.from_rows(spec, [(weights, rows)])
    for k, (_, start, end, _, _) in enumerate(spec.layout()):
        block = weights[rows, start:end].astype(np.float64)
        mean = stats.weight_mean if k % 2 == 0 else stats.bias_mean
        std = stats.weight_std if k % 2 == 0 else stats.bias_std
        assert mean[k // 2] == pytest.approx(block.mean(), rel=1e-9)
        assert std[k // 2] == pytest.approx(block.std(), rel=1e-9)
    weights[[0, 2, 5]] = 1e6  # rows outside the selection do not matter
    assert WeightStats.from_rows(spec, [(weights, rows)]) == stats


def test_normalized_training_rows_are_standardized_and_round_trip_through_dict():
    spec = mlp_spec((3, 4, 2))
    flat = torch.randn(50, spec.num_params, generator=torch.Generator().manual_seed(0)) * 4 + 1
    stats = WeightStats.from_rows(spec, [(flat.numpy(), np.arange(50))])
    ws = stats.normalize(WeightSpace.from_flat(spec, flat))
    for t in ws.tensors():
        assert t.mean().item() == pytest.approx(0.0, abs=1e-5)
        assert t.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
    assert WeightStats.from_dict(stats.to_dict()) == stats


def test_constant_tensor_keeps_a_positive_std_and_empty_selection_fails():
    spec = mlp_spec((2, 3, 1))
    weights = np.zeros((4, spec.num_params), dtype=np.float32)
    stats = WeightStats.from_rows(spec, [(weights, np.arange(4))])
    assert min(stats.weight_std + stats.bias_std) > 0
    with pytest.raises(SpecError, match="no rows"):
        WeightStats.from_rows(spec, [(weights, np.array([], dtype=int))])
    with pytest.raises(SpecError, match="columns"):
        WeightStats.from_rows(spec, [(weights[:, :3], np.arange(4))])
