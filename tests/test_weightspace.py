import json

import pytest
import torch

from weightnet.functional import forward
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace, siren_spec
from weightnet.weightspace import (
    SpecError,
    WeightSpace,
    WeightSpec,
    read_layout_csv,
    write_layout_csv,
)
from weightnet.zoo.architectures import CNN, MLP, SIREN, build_module


def _modules():
    torch.manual_seed(0)
    return {
        "mlp": (MLP([6, 5, 4, 3], "tanh"), torch.randn(7, 6)),
        "cnn": (
            CNN(2, [4, 3], 3, kernel_size=3, activation="relu", stride=1),
            torch.randn(7, 2, 6, 6),
        ),
        "cnn_stride": (CNN(1, [3, 5], 4, kernel_size=3, stride=2), torch.randn(7, 1, 8, 8)),
        "siren": (SIREN([2, 8, 8, 1], w0=30.0), torch.rand(7, 2) * 2 - 1),
    }


@pytest.mark.parametrize("name", ["mlp", "cnn", "cnn_stride", "siren"])
def test_state_dict_round_trip_and_functional_forward(name):
    module, x = _modules()[name]
    spec = WeightSpec.from_module(module)
    sd = module.state_dict()
    ws = WeightSpace.from_state_dicts(spec, [sd, sd])
    assert ws.batch_size == 2 and ws.channels == 1
    back = ws.to_state_dicts(spec)[1]
    assert list(back) == list(sd)
    for key in sd:
        assert torch.equal(back[key], sd[key])
    # the batched functional forward computes exactly what the module computes
    expected = module(x)
    out = forward(spec, ws, x)
    assert out.shape == (2, *expected.shape)
    torch.testing.assert_close(out[1], expected, atol=1e-5, rtol=1e-5)


def test_spec_reads_activations_and_kinds():
    module, _ = _modules()["siren"]
    spec = WeightSpec.from_module(module)
    assert spec.kind == "siren"
    assert spec.activations == ("sin", "sin", "identity")
    assert spec.layers[0].w0 == 30.0
    assert spec.layer_sizes == (2, 8, 8, 1)
    assert spec.hidden_sizes == (8, 8)
    cnn = WeightSpec.from_module(_modules()["cnn"][0])
    assert cnn.kind == "cnn" and cnn.layers[0].kernel == (3, 3) and cnn.layers[0].padding == 1
    assert cnn.describe() == "cnn 2-4-3-3 k3x3 relu"


def test_spec_from_state_dict_matches_module():
    module, _ = _modules()["mlp"]
    from_sd = WeightSpec.from_state_dict(module.state_dict(), "tanh")
    assert from_sd == WeightSpec.from_module(module)


def test_spec_dict_round_trip_is_json_safe():
    spec = cnn_spec()
    again = WeightSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec


def test_flat_layout_round_trip(tmp_path):
    spec = mlp_spec((3, 5, 4, 2))
    ws = random_weightspace(spec, batch_size=3)
    flat = ws.flatten()
    assert flat.shape == (3, spec.num_params) == (3, 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2)
    assert WeightSpace.from_flat(spec, flat).allclose(ws, atol=0, rtol=0)
    write_layout_csv(spec, tmp_path / "layout.csv")
    rows = read_layout_csv(tmp_path / "layout.csv")
    assert rows[0] == ("net.0.weight", 0, 15, 15, (5, 3))
    assert rows[1] == ("net.0.bias", 15, 20, 5, (5,))
    assert rows[-1][2] == spec.num_params
    assert WeightSpec.from_layout_csv(tmp_path / "layout.csv") == spec


def test_weightspace_algebra_and_indexing():
    spec = siren_spec()
    a, b = random_weightspace(spec, 4, seed=1), random_weightspace(spec, 4, seed=2)
    total = a + b
    assert torch.equal(total.weights[1], a.weights[1] + b.weights[1])
    assert (total - b).allclose(a)
    assert torch.equal((2 * a).biases[0], 2 * a.biases[0])
    assert a[1].batch_size == 1 and torch.equal(a[1].weights[0][0], a.weights[0][1])
    both = WeightSpace.collate([a[:2], a[2:]])
    assert both.allclose(a, atol=0, rtol=0)


def test_bad_state_dicts_raise_spec_error():
    spec = mlp_spec()
    sd = {"net.0.weight": torch.zeros(5, 3), "net.0.bias": torch.zeros(5)}
    with pytest.raises(SpecError, match="missing net.2.weight"):
        WeightSpace.from_state_dicts(spec, [sd])
    with pytest.raises(
        SpecError, match=r"w.weight \(shape \(2, 2\)\) has no w.bias: weightnet reads linear and"
    ):
        WeightSpec.from_state_dict({"w.weight": torch.zeros(2, 2)})
    with pytest.raises(SpecError, match="takes 4 inputs"):
        WeightSpec.from_state_dict(
            {
                "a.weight": torch.zeros(3, 2),
                "a.bias": torch.zeros(3),
                "b.weight": torch.zeros(1, 4),
                "b.bias": torch.zeros(1),
            }
        )


def test_build_module_rebuilds_the_function():
    for spec in (mlp_spec((4, 6, 3), "tanh"), cnn_spec(), siren_spec()):
        module = build_module(spec)
        assert WeightSpec.from_module(module) == spec


def test_extra_entries_are_named_as_extra_entries():
    sd = {"net.0.weight": torch.zeros(5, 3), "net.0.bias": torch.zeros(5)}
    with pytest.raises(
        SpecError,
        match=r"^unexpected entry loss_weight of shape \(1,\): not the weight of a linear "
        r"\(2 dims\) or conv2d \(4 dims\) layer",
    ):
        WeightSpec.from_state_dict({**sd, "loss_weight": torch.ones(1)})
    extra = {f"bn.{k}": torch.zeros(5) for k in ("running_mean", "running_var", "a", "b")}
    with pytest.raises(
        SpecError,
        match=r"^unexpected entries bn.running_mean \(5,\), bn.running_var \(5,\), bn.a \(5,\) "
        r"and 1 more: weightnet reads only the weight and bias of linear and conv layers$",
    ):
        WeightSpec.from_state_dict({**sd, **extra})
