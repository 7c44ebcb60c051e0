import pytest
import torch

from weightnet.nn.linear import WeightSpaceLinear
from weightnet.testing import (
    assert_equivariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    permute_io,
    random_weightspace,
)
from weightnet.weightspace import SpecError

SPECS = [mlp_spec((3, 5, 4, 2)), cnn_spec()]
IDS = ["mlp", "cnn"]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("io", ["np", "hnp", "untied"])
def test_equivariant_to_hidden_permutations(spec, io):
    torch.manual_seed(0)
    layer = WeightSpaceLinear(spec, 2, 3, io=io).double()
    ws = random_weightspace(spec, batch_size=3, channels=2).to(torch.float64)
    assert_equivariant(layer, spec, ws, atol=1e-10)
    out = layer(ws)
    assert out.channels == 3
    out.check_spec(spec)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("io", ["hnp", "untied"])
def test_fixed_io_modes_tell_input_neurons_apart(spec, io):
    torch.manual_seed(0)
    layer = WeightSpaceLinear(spec, 1, 2, io=io)
    ws = random_weightspace(spec, batch_size=2)
    assert_sensitive(layer, spec, ws, io=True)
    # the output neurons too
    moved = permute_io(ws, "output")
    assert not layer(moved).allclose(permute_io(layer(ws), "output"), atol=1e-4)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_np_mode_is_equivariant_to_io_permutations(spec):
    """Without embeddings the NP layer cannot tell input neurons apart (why NFN adds them)."""
    torch.manual_seed(0)
    layer = WeightSpaceLinear(spec, 1, 2, io="np").double()
    ws = random_weightspace(spec, batch_size=2).to(torch.float64)
    for which in ("input", "output"):
        out = layer(permute_io(ws, which))
        assert out.allclose(permute_io(layer(ws), which), atol=1e-10)


def test_every_term_contributes():
    """Zeroing one group of parameters changes the output: no dead term."""
    spec = mlp_spec((3, 5, 4, 2))
    torch.manual_seed(0)
    layer = WeightSpaceLinear(spec, 1, 2, io="untied")
    ws = random_weightspace(spec, batch_size=2)
    ref = layer(ws)
    for name, p in layer.named_parameters():
        saved = p.detach().clone()
        with torch.no_grad():
            p.zero_()
        assert not layer(ws).allclose(ref, atol=1e-6), name
        with torch.no_grad():
            p.copy_(saved)


def test_reset_parameters_and_repr():
    spec = mlp_spec((3, 5, 4, 2))
    a = WeightSpaceLinear(spec, 2, 3, io="hnp")
    b = WeightSpaceLinear(spec, 2, 3, io="hnp")
    assert not torch.equal(a.global_map.weight, b.global_map.weight)
    for layer in (a, b):
        torch.manual_seed(1)
        layer.reset_parameters()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert repr(a) == (
        "WeightSpaceLinear(spec='mlp 3-5-4-2 relu', in_channels=2, out_channels=3, io='hnp')"
    )


def test_output_scale_is_moderate():
    """The fan-in init keeps unit-variance inputs at roughly unit scale."""
    spec = mlp_spec((16, 32, 32, 10))
    torch.manual_seed(0)
    layer = WeightSpaceLinear(spec, 8, 8, io="np")
    ws = random_weightspace(spec, batch_size=8, channels=8, scale=1.0)
    std = torch.cat([t.flatten() for t in layer(ws).tensors()]).std()
    assert 0.2 < float(std) < 2.0


def test_unknown_io_mode():
    with pytest.raises(SpecError, match="unknown io mode"):
        WeightSpaceLinear(mlp_spec(), 1, 1, io="both")


def test_edge_linear_matches_autograd():
    from weightnet.nn.linear import edge_linear

    torch.manual_seed(0)
    args = [
        torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True),
        torch.randn(5, 6, dtype=torch.float64, requires_grad=True),
        torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True),
        torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True),
    ]
    assert torch.autograd.gradcheck(edge_linear, args)
    x, w, row, col = args
    expected = x @ w + row[:, :, None] + col[:, None]
    assert torch.allclose(edge_linear(*args), expected)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("io", ["np", "hnp", "untied"])
def test_onednn_products_keep_the_layer(spec, io, monkeypatch):
    """float32 with every product through oneDNN: equivariant, same values and gradients."""
    from weightnet.nn import gemm

    if not gemm._ONEDNN:
        pytest.skip("oneDNN's inner product is not in this PyTorch build")
    torch.manual_seed(0)
    layer = WeightSpaceLinear(spec, 2, 3, io=io)
    ws = random_weightspace(spec, batch_size=3, channels=2)
    reference = layer(ws)
    ref_grads = torch.autograd.grad(
        sum(t.square().sum() for t in reference.tensors()), list(layer.parameters())
    )
    monkeypatch.setattr(gemm, "_ONEDNN_MIN_MACS", 0)
    out = layer(ws)
    assert out.allclose(reference, atol=1e-5)
    grads = torch.autograd.grad(
        sum(t.square().sum() for t in out.tensors()), list(layer.parameters())
    )
    for g, r in zip(grads, ref_grads, strict=True):
        assert torch.allclose(g, r, rtol=1e-4, atol=1e-5)
    assert_equivariant(layer, spec, ws, atol=1e-5)
