import pytest
import torch

from weightnet.functional import forward
from weightnet.symmetry import (
    invert_permutations,
    permute,
    random_symmetry,
    rescale,
    sample_permutations,
    sample_scales,
    sample_signs,
)
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace, siren_spec
from weightnet.weightspace import SpecError

SPECS = {
    "mlp_relu": (mlp_spec((6, 7, 5, 3), "relu"), (6,)),
    "mlp_tanh": (mlp_spec((6, 7, 5, 3), "tanh"), (6,)),
    "mlp_leaky": (mlp_spec((6, 7, 5, 3), "leaky_relu"), (6,)),
    "cnn_relu": (cnn_spec(2, (4, 5), 3, 3, "relu"), (2, 6, 6)),
    "cnn_tanh": (cnn_spec(2, (4, 5), 3, 3, "tanh"), (2, 6, 6)),
    "siren": (siren_spec((2, 8, 8, 1), 30.0), (2,)),
}


def _outputs(spec, ws, input_shape):
    x = torch.randn(11, *input_shape, generator=torch.Generator().manual_seed(3))
    return forward(spec, ws, x.double())


@pytest.mark.parametrize("name", list(SPECS))
def test_permutation_preserves_function(name):
    spec, input_shape = SPECS[name]
    ws = random_weightspace(spec, batch_size=3).to(torch.float64)
    perms = sample_permutations(spec, 3, torch.Generator().manual_seed(1))
    moved = permute(ws, perms)
    assert not moved.allclose(ws)  # the weights really changed
    torch.testing.assert_close(
        _outputs(spec, moved, input_shape), _outputs(spec, ws, input_shape), atol=1e-5, rtol=0
    )
    # and the inverse brings back the exact weights
    assert permute(moved, invert_permutations(perms)).allclose(ws, atol=0, rtol=0)


@pytest.mark.parametrize("name", ["mlp_relu", "mlp_leaky", "cnn_relu"])
def test_positive_scaling_preserves_function(name):
    spec, input_shape = SPECS[name]
    ws = random_weightspace(spec, batch_size=3).to(torch.float64)
    scaled = rescale(ws, spec, sample_scales(spec, 3, torch.Generator().manual_seed(2)))
    assert not scaled.allclose(ws)
    torch.testing.assert_close(
        _outputs(spec, scaled, input_shape), _outputs(spec, ws, input_shape), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("name", ["mlp_tanh", "cnn_tanh", "siren"])
def test_sign_flips_preserve_function(name):
    spec, input_shape = SPECS[name]
    ws = random_weightspace(spec, batch_size=3).to(torch.float64)
    flipped = rescale(ws, spec, sample_signs(spec, 3, torch.Generator().manual_seed(2)))
    assert not flipped.allclose(ws)
    torch.testing.assert_close(
        _outputs(spec, flipped, input_shape), _outputs(spec, ws, input_shape), atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("name", list(SPECS))
def test_random_symmetry_preserves_function_in_float32(name):
    spec, input_shape = SPECS[name]
    ws = random_weightspace(spec, batch_size=5, scale=0.3)
    moved = random_symmetry(ws, spec, torch.Generator().manual_seed(4), scale_range=(0.5, 2.0))
    before = forward(
        spec, ws, torch.randn(9, *input_shape, generator=torch.Generator().manual_seed(0))
    )
    after = forward(
        spec, moved, torch.randn(9, *input_shape, generator=torch.Generator().manual_seed(0))
    )
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


def test_forbidden_actions_are_refused():
    tanh, _ = SPECS["mlp_tanh"]
    relu, _ = SPECS["mlp_relu"]
    ws = random_weightspace(tanh, 2)
    with pytest.raises(SpecError, match="positive scaling"):
        rescale(ws, tanh, sample_scales(tanh, 2))
    with pytest.raises(SpecError, match="sign flips"):
        rescale(ws, relu, sample_signs(relu, 2, torch.Generator().manual_seed(0)))


def test_non_symmetries_do_change_the_function():
    # sanity check that the tests above are not vacuous: scaling a tanh net changes it
    spec, input_shape = SPECS["mlp_tanh"]
    ws = random_weightspace(spec, 2).to(torch.float64)
    doubled = ws.map(lambda t: t)
    w = list(doubled.weights)
    w[0] = w[0] * 2
    from weightnet.weightspace import WeightSpace

    broken = WeightSpace(tuple(w), doubled.biases)
    assert (
        _outputs(spec, broken, input_shape) - _outputs(spec, ws, input_shape)
    ).abs().max() > 1e-2


def test_permutation_acts_on_channels_and_follows_the_formula():
    spec = mlp_spec((2, 3, 2))
    ws = random_weightspace(spec, 1, channels=4)
    perm = torch.tensor([[2, 0, 1]])
    out = permute(ws, [perm])
    torch.testing.assert_close(out.weights[0][0], ws.weights[0][0][perm[0]])
    torch.testing.assert_close(out.biases[0][0], ws.biases[0][0][perm[0]])
    torch.testing.assert_close(out.weights[1][0], ws.weights[1][0][:, perm[0]])
