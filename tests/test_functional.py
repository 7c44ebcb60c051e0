"""weightnet.functional: the tanh the zoo trainer uses is tanh, value and gradient."""

from __future__ import annotations

import torch

from weightnet.functional import forward, sigmoid_tanh
from weightnet.testing import mlp_spec, random_weightspace


def test_sigmoid_tanh_is_tanh_in_value_and_gradient():
    x = torch.linspace(-12.0, 12.0, 20001, requires_grad=True)
    ours = sigmoid_tanh(x)
    (grad,) = torch.autograd.grad(ours.square().sum(), x)
    exact = torch.tanh(x.detach())
    torch.testing.assert_close(ours.detach(), exact, rtol=0, atol=2.5e-7)
    torch.testing.assert_close(grad, 2 * exact * (1 - exact.square()), rtol=0, atol=1e-6)
    assert ours[0] == -1.0 and ours[-1] == 1.0 and sigmoid_tanh(torch.zeros(1)) == 0.0


def test_forward_with_fast_tanh_matches_torch_tanh():
    spec = mlp_spec((5, 7, 6, 3), activation="tanh")
    ws = random_weightspace(spec, batch_size=4, channels=1, seed=0)
    x = torch.randn(9, 5, generator=torch.Generator().manual_seed(1))
    exact, fast = forward(spec, ws, x), forward(spec, ws, x, fast_tanh=True)
    torch.testing.assert_close(fast, exact, rtol=0, atol=1e-6)
    assert not torch.equal(forward(spec, ws, x + 0.1, fast_tanh=True), fast)  # inputs matter
