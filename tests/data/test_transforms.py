import pytest
import torch

from weightnet.data.dataset import WeightSpaceCollate
from weightnet.data.normalization import WeightStats
from weightnet.data.transforms import (
    GaussianNoise,
    RandomPermutation,
    RandomSignFlip,
    WeightDropout,
)
from weightnet.functional import forward
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace, siren_spec
from weightnet.weightspace import WeightSpace


@pytest.mark.parametrize("spec", [mlp_spec((3, 5, 4, 2)), cnn_spec()], ids=["mlp", "cnn"])
def test_permutation_keeps_the_function_and_moves_weights(spec):
    ws = random_weightspace(spec, batch_size=6, seed=1)
    permuted = RandomPermutation(generator=torch.Generator().manual_seed(0))(ws, spec)
    shape = (7, 3) if spec.kind == "mlp" else (7, 2, 5, 5)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(
        forward(spec, permuted, x), forward(spec, ws, x), atol=1e-5, rtol=1e-5
    )
    assert not ws.allclose(permuted)


def test_each_network_gets_its_own_permutation():
    spec = mlp_spec((3, 8, 2))
    one = random_weightspace(spec, batch_size=1, seed=0)
    batch = type(one).collate([one] * 8)
    out = RandomPermutation(generator=torch.Generator().manual_seed(0))(batch, spec)
    first_rows = {tuple(w[:, 0, 0].tolist()) for w in out.weights[0]}
    assert len(first_rows) > 1


def test_probability_zero_is_the_identity():
    spec = mlp_spec()
    ws = random_weightspace(spec, batch_size=4)
    assert RandomPermutation(p=0.0)(ws, spec).allclose(ws, atol=0, rtol=0)


def test_bad_probability():
    with pytest.raises(ValueError, match="p=2"):
        RandomPermutation(p=2)


# ---------------------------------------------------------------- INR augmentations


@pytest.mark.parametrize(
    "spec", [siren_spec((2, 6, 5, 1)), mlp_spec((3, 5, 4, 2), "tanh")], ids=["siren", "tanh"]
)
@pytest.mark.parametrize("transform", [RandomSignFlip(), RandomPermutation()], ids=repr)
def test_symmetries_keep_the_function_of_odd_networks(spec, transform):
    ws = random_weightspace(spec, batch_size=6, seed=4, scale=0.4)
    torch.manual_seed(0)
    moved = transform(ws, spec)
    x = torch.rand(9, spec.layer_sizes[0]) * 2 - 1
    torch.testing.assert_close(forward(spec, moved, x), forward(spec, ws, x), atol=1e-5, rtol=1e-5)
    assert not moved.allclose(ws)


def test_sign_flips_leave_relu_layers_alone_and_p_zero_is_the_identity():
    spec = mlp_spec((3, 5, 4, 2), "relu")
    ws = random_weightspace(spec, batch_size=4)
    assert RandomSignFlip()(ws, spec).allclose(ws, atol=0, rtol=0)
    siren = siren_spec()
    ws = random_weightspace(siren, batch_size=4)
    assert RandomSignFlip(p=0.0)(ws, siren).allclose(ws, atol=0, rtol=0)
    with pytest.raises(ValueError, match="p=-1"):
        RandomSignFlip(p=-1)


def test_sign_flip_negates_a_neuron_in_and_out():
    spec = siren_spec((2, 3, 1))
    ws = random_weightspace(spec, batch_size=64, seed=1)
    out = RandomSignFlip(generator=torch.Generator().manual_seed(0))(ws, spec)
    ratio = out.weights[0][..., 0] / ws.weights[0][..., 0]  # (B, 3, 2): +-1 per neuron (row)
    assert set(ratio.round().unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(ratio[..., 0], ratio[..., 1])
    torch.testing.assert_close(out.biases[0][..., 0] / ws.biases[0][..., 0], ratio[..., 0])
    torch.testing.assert_close(
        out.weights[1][:, 0, :, 0] / ws.weights[1][:, 0, :, 0], ratio[..., 0]
    )


def test_gaussian_noise_is_relative_to_each_tensor():
    spec = siren_spec((2, 16, 16, 1))
    ws = random_weightspace(spec, batch_size=8, seed=2)
    ws = WeightSpace((ws.weights[0] * 100, *ws.weights[1:]), ws.biases)
    noisy = GaussianNoise(std=0.1, generator=torch.Generator().manual_seed(0))(ws, spec)
    for before, after in zip(ws.tensors(), noisy.tensors(), strict=True):
        rms = before.flatten(1).square().mean(dim=1).sqrt()  # (B,)
        relative = ((after - before).flatten(1) / rms[:, None]).std()
        assert 0.06 < float(relative) < 0.14
    assert GaussianNoise(std=0.0)(ws, spec).allclose(ws, atol=0, rtol=0)


def test_weight_dropout_zeros_weights_not_biases():
    spec = siren_spec((2, 32, 32, 1))
    ws = random_weightspace(spec, batch_size=8, seed=3)
    out = WeightDropout(p=0.25, generator=torch.Generator().manual_seed(0))(ws, spec)
    zeros = float((out.weights[1] == 0).float().mean())
    assert 0.2 < zeros < 0.3
    kept = out.weights[1] != 0
    assert torch.equal(out.weights[1][kept], ws.weights[1][kept])
    assert all(torch.equal(a, b) for a, b in zip(out.biases, ws.biases, strict=True))


def test_collate_transforms_raw_weights_before_normalizing():
    """Sign flips are exact on raw weights; normalizing afterwards keeps them exact."""
    spec = siren_spec((2, 6, 5, 1))
    ws = random_weightspace(spec, batch_size=5, seed=5, scale=0.4)
    ws = ws.map(lambda t: t + 0.3)  # non-zero means: flipping normalized values would be wrong
    rows = ws.flatten()
    stats = WeightStats.from_rows(spec, [(rows.numpy(), range(5))])
    x = torch.rand(7, 2) * 2 - 1
    expected = forward(spec, ws, x)
    torch.manual_seed(0)
    out, _ = WeightSpaceCollate(spec, stats, [RandomSignFlip()])((rows, torch.zeros(5)))
    # float32 normalize/denormalize rounding is amplified by w0 = 30
    torch.testing.assert_close(
        forward(spec, stats.denormalize(out), x), expected, atol=5e-4, rtol=0
    )
    torch.manual_seed(0)
    wrong = stats.denormalize(RandomSignFlip()(stats.normalize(ws), spec))
    assert (forward(spec, wrong, x) - expected).abs().max() > 1e-2
