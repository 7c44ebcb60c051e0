import numpy as np
import pytest

from weightnet.data.splits import split_by_group
from weightnet.errors import WeightnetError


def test_groups_never_straddle_and_cover_every_row():
    groups = np.repeat(np.arange(50), 4)[np.random.default_rng(1).permutation(200)]
    parts = split_by_group(groups, (0.8, 0.1, 0.1), seed=3)
    assert sorted(np.concatenate(parts).tolist()) == list(range(200))
    owners = [set(groups[p].tolist()) for p in parts]
    assert not owners[0] & owners[1] and not owners[0] & owners[2] and not owners[1] & owners[2]
    assert [len(o) for o in owners] == [40, 5, 5]


def test_split_is_fixed_by_the_seed():
    groups = np.repeat(np.arange(20), 3)
    a = split_by_group(groups, (0.6, 0.2, 0.2), seed=0)
    b = split_by_group(groups, (0.6, 0.2, 0.2), seed=0)
    c = split_by_group(groups, (0.6, 0.2, 0.2), seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_small_splits_get_at_least_one_group():
    parts = split_by_group(np.arange(5), (0.9, 0.05, 0.05))
    assert [len(p) for p in parts] == [3, 1, 1]


@pytest.mark.parametrize("fractions", [(0.8, -0.1, 0.3), (0, 0, 0)])
def test_bad_fractions(fractions):
    with pytest.raises(WeightnetError, match="fractions"):
        split_by_group(np.arange(10), fractions)


def test_too_few_groups():
    with pytest.raises(WeightnetError, match="2 training runs"):
        split_by_group(np.array([0, 0, 1]), (0.8, 0.1, 0.1))
