import pytest
import torch

from weightnet.align.matching import rank_matching, weight_matching
from weightnet.symmetry import invert_permutations, permute, sample_permutations
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace
from weightnet.weightspace import SpecError

SPECS = {
    "mlp": (mlp_spec((6, 9, 8, 3), "relu"), (6,)),
    "mlp_tanh": (mlp_spec((6, 9, 8, 3), "tanh"), (6,)),
    "cnn": (cnn_spec(2, (5, 6), 3, 3, "relu"), (2, 6, 6)),
}
METHODS = {
    "weight_matching": lambda spec, a, b: weight_matching(spec, a, b, seed=0),
    "rank_matching": rank_matching,
}


def _planted(spec, noise=1e-4, batch=3):
    a = random_weightspace(spec, batch_size=batch, seed=0)
    perms = sample_permutations(spec, batch, torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(2)
    b = permute(a, perms).map(lambda t: t + noise * torch.randn(t.shape, generator=gen))
    return a, b, perms


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("method", list(METHODS))
def test_alignment_preserves_the_function(name, method, assert_same_function):
    spec, input_shape = SPECS[name]
    a = random_weightspace(spec, batch_size=3, seed=0)
    b = random_weightspace(spec, batch_size=3, seed=1)
    result = METHODS[method](spec, a, b)
    assert torch.equal(result.aligned.flatten(), permute(b, result.permutations).flatten())
    assert_same_function(spec, b, result.aligned, input_shape)


@pytest.mark.parametrize("name", list(SPECS))
def test_weight_matching_recovers_a_planted_permutation(name, assert_same_function):
    spec, input_shape = SPECS[name]
    a, b, perms = _planted(spec)
    result = weight_matching(spec, a, b)
    assert float((result.aligned.flatten() - a.flatten()).abs().max()) < 1e-2
    for found, planted in zip(result.permutations, invert_permutations(perms), strict=True):
        assert torch.equal(found, planted)
    assert_same_function(spec, b, result.aligned, input_shape)
    assert 1 <= result.sweeps < 100  # converged: the last sweep changed nothing


@pytest.mark.parametrize("name", list(SPECS))
def test_rank_matching_recovers_an_exact_permutation(name):
    spec, _ = SPECS[name]
    a, b, perms = _planted(spec, noise=0.0)
    result = rank_matching(spec, a, b)
    assert torch.equal(result.aligned.flatten(), a.flatten())


def test_weight_matching_increases_the_similarity_and_is_deterministic():
    spec, _ = SPECS["mlp"]
    a = random_weightspace(spec, batch_size=4, seed=0)
    b = random_weightspace(spec, batch_size=4, seed=1)
    result = weight_matching(spec, a, b, seed=5)

    def similarity(x):
        return (a.flatten() * x.flatten()).sum(dim=1)

    assert bool((similarity(result.aligned) > similarity(b)).all())
    again = weight_matching(spec, a, b, seed=5)
    assert all(
        torch.equal(p, q) for p, q in zip(result.permutations, again.permutations, strict=True)
    )


def test_identity_init_is_the_plain_coordinate_descent(assert_same_function):
    spec, input_shape = SPECS["cnn"]
    a, b, _ = _planted(spec)
    result = weight_matching(spec, a, b, init="identity", seed=3)
    assert result.sweeps >= 2  # the identity start needs at least one improving sweep
    assert_same_function(spec, b, result.aligned, input_shape)
    with pytest.raises(SpecError, match="unknown init"):
        weight_matching(spec, a, b, init="random")


def test_best_init_keeps_the_larger_similarity_of_both_starts():
    spec, _ = SPECS["mlp"]
    a = random_weightspace(spec, batch_size=6, seed=0)
    b = random_weightspace(spec, batch_size=6, seed=1)

    def similarity(init):
        aligned = weight_matching(spec, a, b, init=init, seed=1).aligned
        return (a.flatten().double() * aligned.flatten().double()).sum(dim=1)

    best, forward, identity = similarity("best"), similarity("forward"), similarity("identity")
    torch.testing.assert_close(best, torch.maximum(forward, identity))


def test_a_single_reference_is_matched_against_every_network():
    spec, _ = SPECS["cnn"]
    a, b, _ = _planted(spec, batch=3)
    result = weight_matching(spec, a[0], b)
    assert float((result.aligned[0].flatten() - a[0].flatten()).abs().max()) < 1e-2
    with pytest.raises(SpecError, match="batch"):
        weight_matching(spec, a[:2], b)
