import pytest
import torch
import torch.nn.functional as F

from weightnet.align.barrier import loss_barrier
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace
from weightnet.weightspace import LayerSpec, SpecError, WeightSpace, WeightSpec
from weightnet.zoo.architectures import build_module


def _scalar_chain(w1: float, w2: float) -> WeightSpace:
    """``x -> w2 * (w1 * x)``, no biases."""
    weights = (torch.full((1, 1, 1, 1), w1), torch.full((1, 1, 1, 1), w2))  # (B, n_out, n_in, C)
    biases = (torch.zeros(1, 1, 1), torch.zeros(1, 1, 1))
    return WeightSpace(weights, biases)


def test_barrier_of_a_two_layer_linear_chain_matches_the_closed_form():
    # A = (1, 1) and B = (-1, -1) both map 1 -> 1; halfway the product vanishes.
    # f_alpha(1) = (1 - 2 alpha)^2, so loss(alpha) = ((1 - 2 alpha)^2 - 1)^2 = 16 alpha^2 (1 - alpha)^2
    spec = WeightSpec(
        (
            LayerSpec("a.weight", "a.bias", "linear", (1, 1), "identity"),
            LayerSpec("b.weight", "b.bias", "linear", (1, 1), "identity"),
        )
    )
    x, y = torch.ones(1, 1), torch.ones(1, 1)
    result = loss_barrier(
        spec, _scalar_chain(1.0, 1.0), _scalar_chain(-1.0, -1.0), x, y, num_alphas=11, loss="mse"
    )
    alphas = torch.linspace(0, 1, 11)
    torch.testing.assert_close(result.alphas, alphas)
    torch.testing.assert_close(result.losses[0], 16 * alphas**2 * (1 - alphas) ** 2)
    assert float(result.barrier[0]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "spec,input_shape", [(mlp_spec((6, 7, 4)), (6,)), (cnn_spec(2, (3, 4), 4), (2, 5, 5))]
)
def test_cross_entropy_curve_matches_plain_pytorch_modules(spec, input_shape):
    a = random_weightspace(spec, batch_size=1, seed=0)
    b = random_weightspace(spec, batch_size=1, seed=1)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(20, *input_shape, generator=gen)
    y = torch.randint(0, 4, (20,), generator=gen)
    result = loss_barrier(spec, a, b, x, y, num_alphas=5)
    module = build_module(spec)
    expected = []
    for alpha in result.alphas.tolist():
        mixed = a * (1 - alpha) + b * alpha
        module.load_state_dict(mixed.to_state_dicts(spec)[0])
        expected.append(F.cross_entropy(module(x), y))
    torch.testing.assert_close(
        result.losses[0], torch.stack(expected).detach(), atol=1e-5, rtol=1e-5
    )
    line = (1 - result.alphas) * result.losses[0, 0] + result.alphas * result.losses[0, -1]
    assert float(result.barrier[0]) == pytest.approx(float((result.losses[0] - line).max()))


def test_pairs_are_independent_and_a_network_has_no_barrier_with_itself():
    spec = mlp_spec((5, 6, 3))
    a = random_weightspace(spec, batch_size=3, seed=0)
    b = random_weightspace(spec, batch_size=3, seed=1)
    x = torch.randn(10, 5, generator=torch.Generator().manual_seed(0))
    y = torch.arange(10) % 3
    together = loss_barrier(spec, a, b, x, y)
    for k in range(3):
        alone = loss_barrier(spec, a[k], b[k], x, y)
        torch.testing.assert_close(together.losses[k], alone.losses[0])
    assert float(loss_barrier(spec, a, a, x, y).barrier.abs().max()) < 1e-6


def test_bad_arguments_are_refused():
    spec = mlp_spec((5, 6, 3))
    a = random_weightspace(spec, batch_size=1)
    x, y = torch.randn(4, 5), torch.zeros(4)
    with pytest.raises(SpecError, match="unknown loss"):
        loss_barrier(spec, a, a, x, y, loss="hinge")
    with pytest.raises(SpecError, match="num_alphas"):
        loss_barrier(spec, a, a, x, y, num_alphas=1)
