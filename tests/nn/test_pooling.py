import pytest
import torch

from weightnet.nn.pooling import InvariantPool
from weightnet.testing import (
    assert_invariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    permute_io,
    random_weightspace,
)

SPECS = [mlp_spec((3, 5, 4, 2)), cnn_spec()]
IDS = ["mlp", "cnn"]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("fixed_io", [False, True])
def test_invariant_and_sensitive(spec, fixed_io):
    pool = InvariantPool(spec, 2, fixed_io=fixed_io)
    ws = random_weightspace(spec, batch_size=3, channels=2)
    assert_invariant(pool, spec, ws, atol=1e-6)
    assert_sensitive(pool, spec, ws, io=fixed_io)
    assert pool(ws).shape == (3, pool.out_features)
    io_moved = pool(permute_io(ws, "input"))
    assert torch.allclose(io_moved, pool(ws), atol=1e-6) != fixed_io


def test_sizes_match_nfn_pools():
    spec = mlp_spec((3, 5, 4, 2))
    # NPPool: (kernel + 1) per layer and channel; HNPPool keeps n_in, n_out, n_out
    assert InvariantPool(spec, 4, fixed_io=False).out_features == 4 * 6
    assert InvariantPool(spec, 4, fixed_io=True).out_features == 4 * (3 + 1 + 1 + 1 + 2 + 2)
    cnn = cnn_spec()
    assert InvariantPool(cnn, 1, fixed_io=False).out_features == 10 + 10 + 2
