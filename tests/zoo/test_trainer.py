"""train_networks and chunk_runs: many networks fitted at once, each as if alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightnet.functional import forward
from weightnet.testing import mlp_spec
from weightnet.weightspace import WeightSpace
from weightnet.zoo.optim import VectorizedOptimizer
from weightnet.zoo.trainer import chunk_runs, in_parallel, train_networks


def _data(spec, batch, seed):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, 16, spec.layer_sizes[0], generator=gen)  # (B, N, n_in) per network
    targets = torch.randn(batch, 16, spec.layer_sizes[-1], generator=gen)
    params = 0.3 * torch.randn(batch, spec.num_params, generator=gen)
    return inputs, targets, params


def _mse(spec, inputs, targets):
    def loss_fn(ws, step):
        return ((forward(spec, ws, inputs) - targets) ** 2).mean(dim=(1, 2))  # (B,)

    return loss_fn


def test_losses_drop_and_checkpoints_are_recorded():
    spec = mlp_spec((3, 8, 2), "tanh")
    inputs, targets, params = _data(spec, 5, seed=0)
    loss_fn = _mse(spec, inputs, targets)
    opt = VectorizedOptimizer(
        params, torch.ones(5, dtype=torch.bool), torch.full((5,), 0.05), torch.zeros(5)
    )
    seen = {}
    train_networks(spec, opt, loss_fn, 30, (0, 10, 30), lambda s, p: seen.__setitem__(s, p))
    assert sorted(seen) == [0, 10, 30]
    before = loss_fn(WeightSpace.from_flat(spec, seen[0]), 0)
    after = loss_fn(WeightSpace.from_flat(spec, seen[30]), 0)
    assert (after < 0.7 * before).all()
    assert torch.equal(seen[30], params)  # the last checkpoint is the trained weights


def test_batched_training_equals_one_network_at_a_time():
    spec = mlp_spec((3, 6, 2), "relu")
    inputs, targets, params = _data(spec, 4, seed=2)
    lr, wd = torch.tensor([0.1, 0.01, 0.05, 0.02]), torch.tensor([0.0, 1e-3, 0.0, 1e-2])
    adam = torch.tensor([False, True, True, False])
    together = params.clone()
    train_networks(
        spec, VectorizedOptimizer(together, adam, lr, wd), _mse(spec, inputs, targets), 8
    )
    for row in range(4):
        one = slice(row, row + 1)
        alone = params[one].clone()
        opt = VectorizedOptimizer(alone, adam[one], lr[one], wd[one])
        train_networks(spec, opt, _mse(spec, inputs[one], targets[one]), 8)
        torch.testing.assert_close(alone[0], together[row], rtol=1e-5, atol=1e-6)
        assert not torch.allclose(alone[0], params[row])


def test_bad_checkpoint_step():
    spec = mlp_spec((3, 4, 2))
    inputs, targets, params = _data(spec, 2, seed=0)
    loss_fn = _mse(spec, inputs, targets)
    opt = VectorizedOptimizer(
        params, torch.zeros(2, dtype=torch.bool), torch.ones(2), torch.zeros(2)
    )
    with pytest.raises(ValueError, match="outside"):
        train_networks(spec, opt, loss_fn, 5, (0, 6))


def test_chunk_runs_groups_and_bounds():
    keys = ["a", "b", "a", "a", "b", "a", "c"]
    chunks = chunk_runs(keys, 2)
    assert [c.tolist() for c in chunks] == [[0, 2], [3, 5], [1, 4], [6]]
    assert sorted(np.concatenate(chunks).tolist()) == list(range(7))
    with pytest.raises(ValueError):
        chunk_runs(keys, 0)


def test_in_parallel_keeps_the_order_and_restores_torch_threads():
    import threading

    seen_threads = []

    def work(item):
        seen_threads.append((threading.current_thread().name, torch.get_num_threads()))
        return item * item

    before = torch.get_num_threads()
    assert list(in_parallel(work, range(7), workers=3)) == [i * i for i in range(7)]
    assert torch.get_num_threads() == before
    assert all(name.startswith("weightnet-chunk") and n == 1 for name, n in seen_threads)
    assert list(in_parallel(work, range(3), workers=1)) == [0, 1, 4]  # in this thread
    assert seen_threads[-1][0] == threading.current_thread().name
    with pytest.raises(ZeroDivisionError):
        list(in_parallel(lambda i: 1 // (i - 2), range(5), workers=2))
    assert torch.get_num_threads() == before
