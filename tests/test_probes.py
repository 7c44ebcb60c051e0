import pytest
import torch

from weightnet.data.dataset import WeightSpaceCollate
from weightnet.data.normalization import WeightStats
from weightnet.functional import forward
from weightnet.probes import ProbeChannels, cosine_basis, neuron_activations, probe_inputs
from weightnet.symmetry import permute, random_symmetry, sample_permutations
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace, siren_spec
from weightnet.weightspace import SpecError

SIREN = siren_spec((2, 6, 5, 1), w0=3.0)


def test_probe_domains():
    assert probe_inputs(SIREN, 7).shape == (7, 2)
    uniform = probe_inputs(SIREN, 500, domain="auto")  # SIRENs: coordinates in [-1, 1]^2
    assert uniform.min() >= -1 and uniform.max() <= 1 and uniform.abs().max() > 0.99
    assert probe_inputs(mlp_spec(), 500).abs().max() > 1.5  # features: standard normal
    grid = probe_inputs(SIREN, 9, domain="grid")
    assert grid.tolist()[:4] == [[-1.0, -1.0], [0.0, -1.0], [1.0, -1.0], [-1.0, 0.0]]
    assert torch.equal(probe_inputs(SIREN, 5, seed=3), probe_inputs(SIREN, 5, seed=3))
    assert probe_inputs(cnn_spec(), 4).shape == (4, 2, 8, 8)
    with pytest.raises(SpecError, match="square number of probes"):
        probe_inputs(SIREN, 10, domain="grid")
    with pytest.raises(SpecError, match="unknown probe domain 'disk'"):
        ProbeChannels(4, domain="disk")


@pytest.mark.parametrize("spec", [SIREN, mlp_spec((3, 5, 4, 2), "tanh")], ids=["siren", "mlp"])
def test_last_layer_activations_are_the_network_outputs(spec):
    ws = random_weightspace(spec, 3)
    inputs = probe_inputs(spec, 11)
    acts = neuron_activations(spec, ws, inputs)
    assert [a.shape for a in acts] == [(3, n, 11) for n in spec.layer_sizes[1:]]
    torch.testing.assert_close(acts[-1], forward(spec, ws, inputs).transpose(1, 2))


def test_channels_come_from_the_raw_weights_and_follow_the_neurons():
    ws = random_weightspace(SIREN, 4)
    stats = WeightStats((0.1, 0.2, 0.3), (2.0, 3.0, 4.0), (0.0, 0.5, 1.0), (1.0, 2.0, 3.0))
    probes = ProbeChannels(6, seed=1)
    out = probes(ws, stats.normalize(ws), SIREN)
    assert out.channels == 7
    normalized = stats.normalize(ws)
    for mine, want in zip(out.tensors(), normalized.tensors(), strict=True):
        torch.testing.assert_close(mine[..., :1], want)
    for w in out.weights:
        assert not w[..., 1:].any()
    acts = neuron_activations(SIREN, ws, probe_inputs(SIREN, 6, seed=1))
    for b, a in zip(out.biases, acts, strict=True):
        torch.testing.assert_close(b[..., 1:], a)
    # equivariance: permuting the network's neurons permutes its probe channels alike
    perms = sample_permutations(SIREN, 4, torch.Generator().manual_seed(0))
    moved = probes(permute(ws, perms), stats.normalize(permute(ws, perms)), SIREN)
    assert moved.allclose(permute(out, perms), atol=1e-6)


def test_output_channels_are_invariant_to_every_symmetry():
    ws = random_weightspace(SIREN, 3)
    same = random_symmetry(ws, SIREN, torch.Generator().manual_seed(2))
    probes = ProbeChannels(8)
    a, b = probes(ws, ws, SIREN), probes(same, same, SIREN)
    torch.testing.assert_close(a.biases[-1], b.biases[-1], atol=1e-5, rtol=1e-5)
    assert (a.biases[0][..., 1:] - b.biases[0][..., 1:]).abs().max() > 0.1  # hidden: moved


def test_collate_appends_probes_after_normalization():
    spec = SIREN
    rows = random_weightspace(spec, 5).flatten()
    stats = WeightStats.from_rows(spec, [(rows.numpy(), list(range(5)))])
    plain, _ = WeightSpaceCollate(spec, stats)((rows, torch.zeros(5)))
    probed, _ = WeightSpaceCollate(spec, stats, probes=ProbeChannels(3))((rows, torch.zeros(5)))
    assert probed.channels == 4 and plain.channels == 1
    for a, b in zip(probed.tensors(), plain.tensors(), strict=True):
        torch.testing.assert_close(a[..., :1], b)


def test_cosine_basis_is_orthogonal_and_lowest_frequency_first():
    basis = cosine_basis(6, 3)  # (36, 9)
    gram = basis.T @ basis
    torch.testing.assert_close(gram, torch.eye(9) / 6, atol=1e-6, rtol=0)
    images = basis.T.reshape(9, 6, 6)
    torch.testing.assert_close(images[0], torch.full((6, 6), 1 / 6 / 6**0.5))  # constant
    assert torch.all(images[1][:, 1:] < images[1][:, :-1])  # u=1: one half-cycle across
    torch.testing.assert_close(images[3], images[1].T)  # v=1: the same, down
    with pytest.raises(SpecError, match="4 x 4 coefficients of a 3 x 3 grid"):
        cosine_basis(3, 4)


def test_cosine_channels_are_the_map_coefficients_of_each_neuron():
    ws = random_weightspace(SIREN, 2)
    probes = ProbeChannels(9, domain="cosine", grid_size=6)
    out = probes(ws, ws, SIREN)
    assert out.channels == 10
    maps = neuron_activations(SIREN, ws, probe_inputs(SIREN, 36, domain="grid"))  # (B, n, 36)
    for b, m in zip(out.biases, maps, strict=True):
        torch.testing.assert_close(b[..., 1:], m @ cosine_basis(6, 3), atol=1e-6, rtol=1e-5)
    # the output neuron's first coefficient is the mean of the network's image, scaled
    image = forward(SIREN, ws, probe_inputs(SIREN, 36, domain="grid"))[..., 0]  # (B, 36)
    torch.testing.assert_close(out.biases[-1][:, 0, 1], image.mean(1) * 6**0.5)  # 36 x 1/(6 sqrt 6)
    with pytest.raises(SpecError, match="give a square number, not 10"):
        ProbeChannels(10, domain="cosine")
