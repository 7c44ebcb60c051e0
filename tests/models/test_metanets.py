"""Every model of ``MODELS`` on an MLP and a CNN spec: shapes, invariance, sensitivity."""

import pytest
import torch

from weightnet.models import MODELS, NFN, DWSNet, FlatMLP, StatNN
from weightnet.symmetry import permute, sample_permutations
from weightnet.testing import (
    assert_equivariant,
    assert_invariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    random_weightspace,
)
from weightnet.weightspace import SpecError

SPECS = [mlp_spec((3, 5, 4, 2)), cnn_spec()]
IDS = ["mlp", "cnn"]
EQUIVARIANT = ["dws", "nfn_np", "nfn_hnp"]


def build(name, spec, **kwargs):
    torch.manual_seed(0)
    return MODELS[name](spec, out_features=2, hidden_channels=6, num_layers=2, **kwargs)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_shape_and_no_batch_dependence(spec, name):
    model = build(name, spec).eval()
    ws = random_weightspace(spec, batch_size=5)
    out = model(ws)
    assert out.shape == (5, 2)
    assert torch.allclose(model(ws[1:3]), out[1:3], atol=1e-6)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("name", ["statnn", *EQUIVARIANT])
def test_invariant_and_sensitive(spec, name):
    model = build(name, spec)
    ws = random_weightspace(spec, batch_size=3)
    assert_invariant(model.double(), spec, ws.to(torch.float64), atol=1e-10)
    assert_sensitive(model.float(), spec, ws, io=name in EQUIVARIANT)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("name", EQUIVARIANT)
def test_input_skip_is_invariant_and_reads_the_input(spec, name):
    """With input_skip the head also reads the pooled input: invariant, and it changes the output."""
    model = build(name, spec, input_skip=True, in_channels=3)
    ws = random_weightspace(spec, batch_size=3, channels=3)
    assert_invariant(model.double(), spec, ws.to(torch.float64), atol=1e-10)
    assert_sensitive(model.float(), spec, ws, io=True)
    plain = build(name, spec, in_channels=3)
    assert model.head.layers[0].in_features == plain.head.layers[0].in_features + (
        model.input_pool.out_features
    )
    with torch.no_grad():  # the skipped part of the head's input is the input's pooling
        skipped = model.head.layers[0].weight[:, plain.head.layers[0].in_features :]
        skipped.zero_()
        without = model(ws)
        skipped.fill_(0.1)
        assert (model(ws) - without).abs().max() > 1e-3


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_flat_mlp_is_not_invariant(spec):
    """Why the permutation augmentation exists: the flat baseline sees the neuron order."""
    model = build("mlp", spec)
    ws = random_weightspace(spec, batch_size=3)
    perms = sample_permutations(spec, 3, torch.Generator().manual_seed(0))
    assert (model(permute(ws, perms)) - model(ws)).abs().max() > 1e-3
    assert_sensitive(model, spec, ws, io=True)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("name", EQUIVARIANT)
def test_body_and_projection_are_equivariant(spec, name):
    model = build(name, spec).double()
    ws = random_weightspace(spec, batch_size=3).to(torch.float64)
    assert_equivariant(model.body, spec, ws, atol=1e-10)
    assert model.body(ws).channels == 6
    projection = model.projection(1).double()
    assert_equivariant(lambda x: projection(model.body(x)), spec, ws, atol=1e-10)
    assert projection(model.body(ws)).channels == 1


def test_models_train_one_step():
    spec = mlp_spec((3, 5, 4, 2))
    ws = random_weightspace(spec, batch_size=8)
    target = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    for name in sorted(MODELS):
        model = build(name, spec).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(4):
            loss = torch.nn.functional.mse_loss(model(ws), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        assert all(torch.isfinite(torch.tensor(losses))), name
        assert losses[-1] < losses[0], name


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("name", ["nfn_np", "nfn_hnp"])
def test_nfn_bf16_products_invariant_sensitive_and_trainable(spec, name, monkeypatch):
    from weightnet.nn import gemm

    if not gemm._ONEDNN:
        pytest.skip("oneDNN's inner product is not in this PyTorch build")
    monkeypatch.setattr(gemm, "_ONEDNN_MIN_MACS", 0)  # every product in bfloat16
    model = build(name, spec, bf16=True)
    assert all(layer.bf16 for layer in model.body.layers)
    ws = random_weightspace(spec, batch_size=3)
    assert_invariant(model, spec, ws, atol=1e-5)
    assert_sensitive(model, spec, ws, io=True)
    loss = model(ws).square().sum()
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in model.parameters())


def test_registry_and_options():
    assert MODELS["dws"] is DWSNet and MODELS["mlp"] is FlatMLP and MODELS["statnn"] is StatNN
    spec = cnn_spec()
    assert build("nfn_np", spec).mode == "np" and build("nfn_hnp", spec).mode == "hnp"
    model = NFN(spec, 3, mode="np", io_embed=False, in_channels=2, head_hidden=10, head_layers=3)
    assert model(random_weightspace(spec, 2, channels=2)).shape == (2, 3)
    assert "io_embed=False" in repr(model)
    with pytest.raises(SpecError, match="unknown NFN mode"):
        NFN(spec, mode="both")
    with pytest.raises(ValueError, match="num_layers"):
        DWSNet(spec, num_layers=0)
