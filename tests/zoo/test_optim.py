"""VectorizedOptimizer: each row gets exactly torch.optim's update for that network alone."""

from __future__ import annotations

import torch

from weightnet.zoo.optim import VectorizedOptimizer


def _reference(start, grads, adam, lr, wd):
    param = torch.nn.Parameter(start.clone())
    opt = (torch.optim.Adam if adam else torch.optim.SGD)([param], lr=lr, weight_decay=wd)
    for grad in grads:
        param.grad = grad.clone()
        opt.step()
    return param.detach()


def test_rows_match_torch_optim_sgd_and_adam_mixed():
    gen = torch.Generator().manual_seed(0)
    batch, size, steps = 6, 11, 5
    start = torch.randn(batch, size, generator=gen)
    grads = [torch.randn(batch, size, generator=gen) for _ in range(steps)]
    use_adam = torch.tensor([True, False, True, False, True, True])
    lr = torch.tensor([1e-3, 1e-1, 3e-2, 5e-3, 1e-2, 2e-4])
    wd = torch.tensor([0.0, 1e-2, 1e-4, 0.0, 1e-1, 1e-8])
    params = start.clone()
    opt = VectorizedOptimizer(params, use_adam, lr, wd)
    for grad in grads:
        opt.step(grad.clone())
    for row in range(batch):
        expected = _reference(
            start[row], [g[row] for g in grads], bool(use_adam[row]), float(lr[row]), float(wd[row])
        )
        torch.testing.assert_close(params[row], expected, rtol=1e-5, atol=1e-7)
        assert not torch.equal(params[row], start[row])


def test_homogeneous_batches_take_the_same_path_as_mixed_ones():
    gen = torch.Generator().manual_seed(1)
    start = torch.randn(4, 7, generator=gen)
    grad = torch.randn(4, 7, generator=gen)
    for flag in (True, False):
        alone = start.clone()
        VectorizedOptimizer(
            alone, torch.full((4,), flag), torch.full((4,), 0.01), torch.zeros(4)
        ).step(grad.clone())
        mixed = start.clone()
        use_adam = torch.tensor([flag, not flag, flag, not flag])
        VectorizedOptimizer(mixed, use_adam, torch.full((4,), 0.01), torch.zeros(4)).step(
            grad.clone()
        )
        torch.testing.assert_close(alone[0::2], mixed[0::2])
