import pytest
import torch

from weightnet.data.transforms import RandomPermutation
from weightnet.functional import forward
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace


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
