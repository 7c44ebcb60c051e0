import torch

from weightnet.align.canonical import canonicalize
from weightnet.align.transform import Canonicalize
from weightnet.symmetry import random_symmetry
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace


def test_transform_is_the_canonical_form_and_removes_the_symmetries():
    for spec in (mlp_spec((4, 6, 5, 2), "relu"), cnn_spec(2, (3, 4), 3, 3, "tanh")):
        ws = random_weightspace(spec, batch_size=2).to(torch.float64)
        transform = Canonicalize()
        assert transform(ws, spec).allclose(canonicalize(ws, spec), atol=0, rtol=0)
        moved = random_symmetry(ws, spec, torch.Generator().manual_seed(0))
        assert not moved.allclose(ws)
        assert transform(moved, spec).allclose(transform(ws, spec), atol=1e-8)


def test_transform_options_and_repr():
    spec = mlp_spec((4, 6, 2), "relu")
    ws = random_weightspace(spec, batch_size=2)
    transform = Canonicalize(scale=False)
    assert transform(ws, spec).allclose(canonicalize(ws, spec, scale=False), atol=0, rtol=0)
    assert repr(transform) == "Canonicalize(permutation=True, scale=False, sign=True, phase=False)"
