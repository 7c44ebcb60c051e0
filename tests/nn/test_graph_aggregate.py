import pytest
import torch

from weightnet.nn.graph_aggregate import aggregate_block

AGGS = [("mean", "max"), ("mean", "max", "min", "std"), ("max",), ("min", "mean")]


def _reference(block, aggregators):
    ops = {
        "mean": lambda dim: block.mean(dim),
        "max": lambda dim: block.amax(dim),
        "min": lambda dim: block.amin(dim),
        "std": lambda dim: torch.sqrt(block.var(dim, correction=0) + 1e-5),
    }
    return [ops[name](2) for name in aggregators], [ops[name](1) for name in aggregators]


@pytest.mark.parametrize("aggregators", AGGS)
def test_values_and_gradients_match_autograd(aggregators):
    torch.manual_seed(0)
    block = torch.randn(2, 3, 4, 5, dtype=torch.double, requires_grad=True)
    incoming, outgoing = aggregate_block(block, aggregators)
    ref_in, ref_out = _reference(block, aggregators)
    assert [tuple(t.shape) for t in incoming] == [(2, 3, 5)] * len(aggregators)
    assert [tuple(t.shape) for t in outgoing] == [(2, 4, 5)] * len(aggregators)
    for ours, ref in zip(incoming + outgoing, ref_in + ref_out, strict=True):
        torch.testing.assert_close(ours, ref)
    weights = [torch.randn_like(t) for t in ref_in + ref_out]
    ours = sum((t * w).sum() for t, w in zip(incoming + outgoing, weights, strict=True))
    ref = sum((t * w).sum() for t, w in zip(ref_in + ref_out, weights, strict=True))
    (grad,) = torch.autograd.grad(ours, block)
    (grad_ref,) = torch.autograd.grad(ref, block)
    torch.testing.assert_close(grad, grad_ref)
    assert grad.abs().sum() > 0


def test_gradcheck_and_unused_outputs():
    torch.manual_seed(1)
    block = torch.randn(2, 3, 4, 2, dtype=torch.double, requires_grad=True)

    def fn(x):
        incoming, outgoing = aggregate_block(x, ("mean", "max", "min"))
        return (*incoming, *outgoing)

    assert torch.autograd.gradcheck(fn, (block,))
    # only the incoming max is used: the gradient is one-hot along n_in
    (grad,) = torch.autograd.grad(aggregate_block(block, ("mean", "max"))[0][1].sum(), block)
    assert torch.equal(grad.sum(2), torch.ones(2, 3, 2, dtype=torch.double))
    assert torch.equal((grad != 0).sum(2), torch.ones(2, 3, 2, dtype=torch.long))
