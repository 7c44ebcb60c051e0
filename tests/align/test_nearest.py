"""align_to_nearest: same functions, invariant to the symmetry group, nearest reference kept."""

import pytest
import torch

from weightnet.align.canonical import canonicalize
from weightnet.align.nearest import align_to_nearest
from weightnet.symmetry import permute, rescale, sample_permutations, sample_scales, sample_signs
from weightnet.testing import (
    assert_invariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    random_weightspace,
    siren_spec,
)
from weightnet.weightspace import SpecError, WeightSpace

CASES = [
    ("tanh", mlp_spec((3, 6, 5, 2), activation="tanh"), (3,)),
    ("relu", mlp_spec((3, 6, 5, 2)), (3,)),
    ("siren", siren_spec((2, 6, 5, 1)), (2,)),
    ("cnn", cnn_spec(2, (4, 3), 2, activation="tanh"), (2, 5, 5)),
]


def _group_element(spec, ws, seed):
    """A random permutation plus sign flips (odd activations) or scalings (ReLU)."""
    gen = torch.Generator().manual_seed(seed)
    act = spec.layers[0].activation
    if act in ("tanh", "sin"):
        ws = rescale(ws, spec, sample_signs(spec, ws.batch_size, gen))
    elif act == "relu":
        ws = rescale(ws, spec, sample_scales(spec, ws.batch_size, gen))
    return permute(ws, sample_permutations(spec, ws.batch_size, gen))


@pytest.mark.parametrize(("name", "spec", "input_shape"), CASES, ids=[c[0] for c in CASES])
def test_aligned_networks_compute_the_same_functions(name, spec, input_shape, assert_same_function):
    ws = random_weightspace(spec, batch_size=3, seed=1)
    refs = random_weightspace(spec, batch_size=2, seed=2)
    assert_same_function(spec, ws, align_to_nearest(spec, ws, refs), input_shape)


@pytest.mark.parametrize(("name", "spec", "input_shape"), CASES, ids=[c[0] for c in CASES])
def test_alignment_is_invariant_to_the_symmetry_group_and_sensitive(name, spec, input_shape):
    ws = random_weightspace(spec, batch_size=3, seed=1)
    refs = random_weightspace(spec, batch_size=2, seed=2)
    aligned = align_to_nearest(spec, ws, refs).flatten()
    moved = align_to_nearest(spec, _group_element(spec, ws, seed=3), refs).flatten()
    torch.testing.assert_close(moved, aligned, atol=1e-5, rtol=1e-5)
    fn = lambda x: align_to_nearest(spec, x, refs).flatten()  # noqa: E731
    assert_invariant(fn, spec, ws)
    assert_sensitive(fn, spec, ws)


def test_each_network_goes_to_the_reference_it_came_from():
    spec = siren_spec((2, 8, 8, 1))
    refs = canonicalize(random_weightspace(spec, batch_size=2, seed=4), spec, permutation=False)
    noise = random_weightspace(spec, batch_size=2, seed=5, scale=1e-3)
    near = WeightSpace.from_flat(spec, refs.flatten().flip(0)) + noise  # near ref 1, then ref 0
    shuffled = _group_element(spec, near, seed=6)
    aligned = align_to_nearest(spec, shuffled, refs).flatten()
    torch.testing.assert_close(aligned, near.flatten(), atol=1e-6, rtol=0)


def test_no_reference_is_an_error():
    spec = mlp_spec((3, 4, 2))
    with pytest.raises(SpecError, match="at least one reference"):
        align_to_nearest(spec, random_weightspace(spec, 1), random_weightspace(spec, 1)[0:0])
