import pytest
import torch

from weightnet.nn.channels import WeightSpaceActivation, WeightSpaceDropout
from weightnet.testing import assert_equivariant, cnn_spec, mlp_spec, random_weightspace


@pytest.mark.parametrize("spec", [mlp_spec((3, 5, 4, 2)), cnn_spec()], ids=["mlp", "cnn"])
@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "tanh"])
def test_activation_is_equivariant(spec, name):
    ws = random_weightspace(spec, batch_size=2, channels=2)
    act = WeightSpaceActivation(name)
    assert_equivariant(act, spec, ws)
    assert act(ws).allclose(ws.map(lambda t: act.fn(t)))


def test_relu_values_and_unknown_name():
    spec = mlp_spec()
    ws = random_weightspace(spec)
    assert all(bool((t >= 0).all()) for t in WeightSpaceActivation("relu")(ws).tensors())
    with pytest.raises(ValueError, match="unknown activation"):
        WeightSpaceActivation("softplus")


def test_dropout_train_and_eval():
    spec = mlp_spec((3, 50, 40, 2))
    ws = random_weightspace(spec, batch_size=4)
    drop = WeightSpaceDropout(0.5)
    torch.manual_seed(0)
    out = drop(ws)
    zeros = float((out.weights[1] == 0).float().mean())
    assert 0.4 < zeros < 0.6
    assert torch.allclose(
        out.weights[1][out.weights[1] != 0], 2 * ws.weights[1][out.weights[1] != 0]
    )
    drop.eval()
    assert drop(ws) is ws
