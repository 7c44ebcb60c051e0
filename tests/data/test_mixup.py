import numpy as np
import pytest
import torch

from weightnet.data.mixup import WeightMixUp
from weightnet.functional import forward
from weightnet.symmetry import random_symmetry
from weightnet.testing import mlp_spec, random_weightspace, siren_spec
from weightnet.weightspace import WeightSpace

SIREN = siren_spec((2, 8, 8, 1), w0=3.0)
COORDS = torch.rand(50, 2) * 2 - 1


def _pair_of_one_function(spec, seed=0):
    """Two arrangements of the same networks: a batch ``[a, g(a)]`` for a random symmetry g."""
    a = random_weightspace(spec, 1, seed=seed)
    b = random_symmetry(a, spec, torch.Generator().manual_seed(seed + 1))
    return WeightSpace.collate([a, b]), a


def test_alpha_zero_is_the_identity():
    ws = random_weightspace(SIREN, 4)
    labels = torch.tensor([0.0, 1.0, 2.0, 3.0])
    out, targets = WeightMixUp(10, alpha=0.0)(ws, labels, SIREN)
    assert out is ws and targets is labels


def test_soft_labels_weigh_the_two_classes_by_lambda():
    gen = torch.Generator().manual_seed(0)
    ws = random_weightspace(SIREN, 6)
    labels = torch.arange(6).float()
    mixed, soft = WeightMixUp(6, alpha=0.4, align=False, generator=gen)(ws, labels, SIREN)
    assert soft.shape == (6, 6)
    torch.testing.assert_close(soft.sum(1), torch.ones(6, dtype=soft.dtype))
    lam = soft[torch.arange(6), torch.arange(6)]  # each network's own class gets lambda
    partner = soft.clone()
    partner[torch.arange(6), torch.arange(6)] = 0
    j = partner.argmax(1)  # the partner's class gets 1 - lambda
    torch.testing.assert_close(partner.max(1).values, 1 - lam)
    expected = (
        lam.reshape(6, 1, 1, 1) * ws.weights[1] + (1 - lam.reshape(6, 1, 1, 1)) * ws.weights[1][j]
    )
    torch.testing.assert_close(mixed.weights[1], expected.to(mixed.weights[1]))
    assert len(np.unique(lam.numpy())) == 6  # one lambda per network


@pytest.mark.parametrize("spec", [SIREN, mlp_spec((3, 6, 5, 2), "tanh")], ids=["siren", "tanh"])
def test_aligned_mixup_of_one_function_keeps_that_function(spec):
    """Two arrangements of one network (permuted and sign-flipped) mix into that network."""
    pair, original = _pair_of_one_function(spec)
    gen = torch.Generator().manual_seed(3)
    mixed, _ = WeightMixUp(10, alpha=1.0, align=True, generator=gen)(
        pair, torch.tensor([1.0, 1.0]), spec
    )
    x = torch.rand(50, spec.layer_sizes[0], generator=torch.Generator().manual_seed(0)) * 2 - 1
    got, want = forward(spec, mixed, x), forward(spec, original, x)  # (2, 50, n_out), (1, ...)
    torch.testing.assert_close(got, want.expand_as(got), atol=1e-4, rtol=1e-4)


def test_unaligned_mixup_of_one_function_changes_it():
    """Sensitivity: without alignment, mixing two arrangements is not the same network."""
    pair, original = _pair_of_one_function(SIREN)
    for seed in range(10):  # a seed whose random partners swap the two networks
        gen = torch.Generator().manual_seed(seed)
        mixup = WeightMixUp(2, alpha=1.0, align=False, generator=gen)
        mixed, soft = mixup(pair, torch.tensor([0.0, 1.0]), SIREN)
        if soft[0, 1] > 0:
            break
    assert soft[0, 1] > 0.01 and soft[0, 0] > 0.01
    got = forward(SIREN, mixed, COORDS)
    assert (got - forward(SIREN, original, COORDS)).abs().max() > 0.05


def test_same_generator_same_mix():
    ws = random_weightspace(SIREN, 5)
    labels = torch.arange(5).float()
    one = WeightMixUp(5, 0.5, True, torch.Generator().manual_seed(7))(ws, labels, SIREN)
    two = WeightMixUp(5, 0.5, True, torch.Generator().manual_seed(7))(ws, labels, SIREN)
    assert one[0].allclose(two[0], atol=0, rtol=0) and torch.equal(one[1], two[1])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        WeightMixUp(10, alpha=-1)
    with pytest.raises(ValueError, match="2 classes"):
        WeightMixUp(1)
