import pytest
import torch

from weightnet.align.canonical import canonical_factors, canonical_permutations, canonicalize
from weightnet.align.neurons import incoming, outgoing
from weightnet.symmetry import permute, random_symmetry, rescale, sample_permutations, sample_scales
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace, siren_spec
from weightnet.weightspace import LayerSpec, WeightSpace, WeightSpec

SPECS = {
    "mlp_relu": (mlp_spec((6, 7, 5, 3), "relu"), (6,)),
    "mlp_leaky": (mlp_spec((6, 7, 5, 3), "leaky_relu"), (6,)),
    "mlp_tanh": (mlp_spec((6, 7, 5, 3), "tanh"), (6,)),
    "mlp_sigmoid": (mlp_spec((6, 7, 5, 3), "sigmoid"), (6,)),
    "cnn_relu": (cnn_spec(2, (4, 5), 3, 3, "relu"), (2, 6, 6)),
    "cnn_tanh": (cnn_spec(2, (4, 5), 3, 3, "tanh"), (2, 6, 6)),
    "siren": (siren_spec((2, 8, 8, 1), 30.0), (2,)),
}


def _ws(spec, batch=3, seed=0):
    return random_weightspace(spec, batch_size=batch, seed=seed).to(torch.float64)


def _max_diff(a: WeightSpace, b: WeightSpace) -> float:
    return float((a.flatten() - b.flatten()).abs().max())


@pytest.mark.parametrize("name", list(SPECS))
def test_canonical_form_computes_the_same_function(name, assert_same_function):
    spec, input_shape = SPECS[name]
    ws = _ws(spec)
    canon = canonicalize(ws, spec)
    assert _max_diff(canon, ws) > 1e-3  # the weights really moved
    assert_same_function(spec, ws, canon, input_shape)
    ws32 = random_weightspace(spec, batch_size=3, seed=1, scale=0.3)  # the same in float32
    assert_same_function(spec, ws32, canonicalize(ws32, spec), input_shape)


@pytest.mark.parametrize("name", list(SPECS))
def test_canonical_form_is_idempotent(name):
    spec, _ = SPECS[name]
    canon = canonicalize(_ws(spec), spec)
    assert _max_diff(canonicalize(canon, spec), canon) < 1e-10


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("seed", [1, 2])
def test_canonical_form_is_invariant_to_the_symmetry_group(name, seed):
    spec, _ = SPECS[name]
    ws = _ws(spec)
    moved = random_symmetry(ws, spec, torch.Generator().manual_seed(seed))
    assert _max_diff(moved, ws) > 1e-2
    assert _max_diff(canonicalize(moved, spec), canonicalize(ws, spec)) < 1e-8


@pytest.mark.parametrize("name", ["mlp_relu", "cnn_relu"])
def test_each_part_removes_only_its_own_symmetry(name):
    spec, _ = SPECS[name]
    ws = _ws(spec)
    gen = torch.Generator().manual_seed(3)
    permuted = permute(ws, sample_permutations(spec, 3, gen))
    scaled = rescale(ws, spec, sample_scales(spec, 3, gen))
    perm_only = dict(scale=False, sign=False)
    assert (
        _max_diff(canonicalize(permuted, spec, **perm_only), canonicalize(ws, spec, **perm_only))
        < 1e-12
    )
    assert (
        _max_diff(canonicalize(scaled, spec, **perm_only), canonicalize(ws, spec, **perm_only))
        > 1e-2
    )
    no_perm = dict(permutation=False)
    assert (
        _max_diff(canonicalize(scaled, spec, **no_perm), canonicalize(ws, spec, **no_perm)) < 1e-10
    )
    assert (
        _max_diff(canonicalize(permuted, spec, **no_perm), canonicalize(ws, spec, **no_perm)) > 1e-2
    )


def test_relu_canonical_form_has_unit_norms_and_sorted_keys():
    spec, _ = SPECS["cnn_relu"]
    canon = canonicalize(_ws(spec), spec)
    for i in range(len(spec.hidden_sizes)):
        torch.testing.assert_close(
            incoming(canon, i).norm(dim=-1),
            torch.ones(3, spec.hidden_sizes[i], dtype=torch.float64),
        )
        keys = outgoing(canon, i).norm(dim=-1)  # incoming norms are 1
        assert bool((keys[:, :-1] >= keys[:, 1:]).all())


def test_tanh_canonical_form_has_positive_largest_incoming_entry():
    spec, _ = SPECS["mlp_tanh"]
    canon = canonicalize(_ws(spec), spec)
    for i in range(len(spec.hidden_sizes)):
        rows = incoming(canon, i)
        largest = rows.gather(-1, rows.abs().argmax(-1, keepdim=True))
        assert bool((largest > 0).all())


def test_sigmoid_layers_are_only_sorted():
    spec, _ = SPECS["mlp_sigmoid"]
    ws = _ws(spec)
    assert all(bool((d == 1).all()) for d in canonical_factors(ws, spec))


def test_exact_ties_are_broken_by_the_incoming_weights():
    layers = (
        LayerSpec("a.weight", "a.bias", "linear", (3, 2), "relu"),
        LayerSpec("b.weight", "b.bias", "linear", (1, 3), "identity"),
    )
    spec = WeightSpec(layers)
    # three neurons with the same key (unit incoming norm, unit outgoing weight)
    w1 = torch.tensor([[0.0, 0.6], [0.6, 0.0], [0.0, -0.6]], dtype=torch.float64)
    b1 = torch.full((3,), 0.8, dtype=torch.float64)
    ws = WeightSpace(
        (w1[None, ..., None], torch.ones(1, 1, 3, 1, dtype=torch.float64)),
        (b1[None, :, None], torch.zeros(1, 1, 1, dtype=torch.float64)),
    )
    perms = canonical_permutations(ws, spec)
    assert perms[0].tolist() == [[1, 0, 2]]  # rows in decreasing lexicographic order


def test_networks_of_a_batch_are_canonicalized_independently():
    spec, _ = SPECS["cnn_tanh"]
    ws = _ws(spec, batch=4)
    together = canonicalize(ws, spec)
    for b in range(4):
        assert _max_diff(together[b], canonicalize(ws[b], spec)) == 0


def test_phase_canonical_form_keeps_the_function_and_folds_biases(assert_same_function):
    """Biases many periods of sin(30 x) away are brought into [-pi/60, pi/60], exactly."""
    import math

    from weightnet.align.canonical import canonical_phases

    spec, input_shape = SPECS["siren"]
    ws = random_weightspace(spec, batch_size=3, seed=2, scale=0.7).to(torch.float64)
    folded = canonical_phases(ws, spec)
    assert_same_function(spec, ws, folded, input_shape)
    half = math.pi / 60
    for b in folded.biases[:-1]:
        assert b.abs().max() <= half + 1e-12
    assert (ws.biases[0].abs() > half).any()  # there was something to fold
    assert torch.equal(folded.biases[-1], ws.biases[-1])  # the linear output layer stays
    again = canonical_phases(folded, spec)
    assert _max_diff(again, folded) == 0.0  # idempotent
    # shifting a neuron's bias by k pi / w0 (and its outgoing weights by (-1)^k) is undone
    shifted = list(ws.biases)
    shifted[0] = shifted[0] + 3 * math.pi / 30
    weights = list(ws.weights)
    weights[1] = -weights[1]
    moved = WeightSpace(tuple(weights), tuple(shifted))
    assert_same_function(spec, ws, moved, input_shape)
    assert _max_diff(canonical_phases(moved, spec), folded) < 1e-9
    full = canonicalize(moved, spec, phase=True)
    assert _max_diff(full, canonicalize(ws, spec, phase=True)) < 1e-9
    relu = SPECS["mlp_relu"][0]  # no sine layer: nothing moves
    plain = _ws(relu)
    assert _max_diff(canonical_phases(plain, relu), plain) == 0.0
