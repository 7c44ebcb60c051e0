"""Property tests over random architectures (hypothesis): exactness of symmetries, round trips,
metanet invariance and canonical forms on MLPs and CNNs of depth 1-4 and widths 1-8."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from weightnet.align.canonical import canonicalize
from weightnet.functional import forward
from weightnet.graph import graph_to_weightspaces, to_graph_batch
from weightnet.models import MODELS
from weightnet.symmetry import permute, random_symmetry, sample_permutations
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace
from weightnet.weightspace import WeightSpace, WeightSpec

ACTIVATIONS = ("relu", "tanh", "sin", "leaky_relu")


@st.composite
def specs(draw, max_width: int = 8) -> WeightSpec:
    """An MLP or CNN spec: 1-4 hidden layers of width 1-``max_width``, kernel 1 or 3."""
    activation = draw(st.sampled_from(ACTIVATIONS))
    depth = draw(st.integers(1, 4))
    widths = tuple(draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth)))
    if draw(st.booleans()):
        return mlp_spec((draw(st.integers(1, 6)), *widths, draw(st.integers(1, 4))), activation)
    in_channels, classes = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    return cnn_spec(in_channels, widths, classes, draw(st.sampled_from([1, 3])), activation)


def _inputs(spec: WeightSpec, seed: int) -> torch.Tensor:
    """``(7, *in)`` float64 inputs: vectors for MLPs, 5x5 images for CNNs."""
    first = spec.layers[0]
    shape = (first.n_in,) if first.kind == "linear" else (first.n_in, 5, 5)
    return torch.randn(
        7, *shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


def _weights(spec: WeightSpec, seed: int, batch: int = 3) -> WeightSpace:
    return random_weightspace(spec, batch_size=batch, seed=seed).to(torch.float64)


def _assert_same(a: WeightSpace, b: WeightSpace) -> None:
    assert len(a.tensors()) == len(b.tensors())
    for x, y in zip(a.tensors(), b.tensors(), strict=True):
        assert x.shape == y.shape and torch.equal(x, y)


SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(spec=specs(), seed=st.integers(0, 2**16))
def test_symmetries_preserve_the_function(spec, seed):
    ws, x = _weights(spec, seed), _inputs(spec, seed)
    moved = random_symmetry(ws, spec, torch.Generator().manual_seed(seed))
    torch.testing.assert_close(forward(spec, moved, x), forward(spec, ws, x), rtol=1e-9, atol=1e-9)


@SETTINGS
@given(spec=specs(), other=specs(), seed=st.integers(0, 2**16))
def test_graph_round_trip_is_exact(spec, other, seed):
    ws, ws_other = _weights(spec, seed), _weights(other, seed + 1, batch=2)
    _assert_same(graph_to_weightspaces(to_graph_batch(ws, spec), spec), ws)
    back = graph_to_weightspaces(to_graph_batch([(spec, ws), (other, ws_other)]), [spec, other])
    _assert_same(back[0], ws)
    _assert_same(back[1], ws_other)


@SETTINGS
@given(spec=specs(), seed=st.integers(0, 2**16))
def test_state_dict_and_flat_round_trips_are_exact(spec, seed):
    ws = random_weightspace(spec, batch_size=3, seed=seed)  # float32, as zoos store them
    _assert_same(WeightSpace.from_state_dicts(spec, ws.to_state_dicts(spec)), ws)
    flat = ws.flatten()  # (B, P)
    assert flat.shape == (3, spec.num_params)
    _assert_same(WeightSpace.from_flat(spec, flat), ws)


@settings(max_examples=25, deadline=None)
@given(spec=specs(max_width=4), seed=st.integers(0, 2**16))
@pytest.mark.parametrize("name", sorted(set(MODELS) - {"mlp"}))
def test_metanets_are_invariant_to_hidden_permutations(name, spec, seed):
    torch.manual_seed(seed)
    model = MODELS[name](spec, out_features=2, hidden_channels=4, num_layers=1).double().eval()
    ws = _weights(spec, seed)
    perms = sample_permutations(spec, 3, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        torch.testing.assert_close(model(permute(ws, perms)), model(ws), rtol=1e-8, atol=1e-8)


@SETTINGS
@given(spec=specs(), seed=st.integers(0, 2**16))
def test_canonical_forms_are_idempotent_and_keep_the_function(spec, seed):
    ws, x = _weights(spec, seed), _inputs(spec, seed)
    once = canonicalize(ws, spec)
    twice = canonicalize(once, spec)
    for a, b in zip(twice.tensors(), once.tensors(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(forward(spec, once, x), forward(spec, ws, x), rtol=1e-9, atol=1e-9)
    moved = random_symmetry(ws, spec, torch.Generator().manual_seed(seed + 1))
    for a, b in zip(canonicalize(moved, spec).tensors(), once.tensors(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
