import pytest
import torch

from weightnet.nn.nfn import HNPLinear, NPLinear
from weightnet.testing import (
    assert_equivariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    permute_io,
    random_weightspace,
)

SPECS = [mlp_spec((3, 5, 4, 2)), cnn_spec()]
IDS = ["mlp", "cnn"]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("cls", [NPLinear, HNPLinear])
def test_equivariant_and_sensitive(spec, cls):
    torch.manual_seed(0)
    layer = cls(spec, 2, 3)
    ws = random_weightspace(spec, batch_size=3, channels=2)
    assert_equivariant(layer.double(), spec, ws.to(torch.float64), atol=1e-10)
    assert_sensitive(layer.float(), spec, ws, io=True)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@pytest.mark.parametrize("cls", [NPLinear, HNPLinear])
def test_bf16_products_keep_the_symmetry(spec, cls, monkeypatch):
    """bfloat16 factors in every product: equivariant, sensitive, close to float32."""
    from weightnet.nn import gemm

    if not gemm._ONEDNN:
        pytest.skip("oneDNN's inner product is not in this PyTorch build")
    monkeypatch.setattr(gemm, "_ONEDNN_MIN_MACS", 0)
    torch.manual_seed(0)
    layer = cls(spec, 2, 3, bf16=True)
    exact = cls(spec, 2, 3)
    exact.load_state_dict(layer.state_dict())
    ws = random_weightspace(spec, batch_size=3, channels=2)
    out, reference = layer(ws), exact(ws)
    scale = max(float(t.abs().max()) for t in reference.tensors())
    assert not out.allclose(reference, atol=1e-7)  # the products are rounded ...
    assert out.allclose(reference, atol=2e-2 * scale)  # ... to bfloat16 precision
    assert_equivariant(layer, spec, ws, atol=1e-5 * scale)
    assert_sensitive(layer, spec, ws, io=True)
    assert "bf16=True" in repr(layer)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_np_io_embed_breaks_io_symmetry(spec):
    torch.manual_seed(0)
    ws = random_weightspace(spec, batch_size=2).to(torch.float64)
    plain = NPLinear(spec, 1, 2, io_embed=False).double()
    moved = permute_io(ws, "input")
    assert plain(moved).allclose(permute_io(plain(ws), "input"), atol=1e-10)
    embedded = NPLinear(spec, 1, 2, io_embed=True).double()
    assert not embedded(moved).allclose(permute_io(embedded(ws), "input"), atol=1e-4)


def test_np_embeddings_shapes_and_repr():
    spec = cnn_spec()
    layer = NPLinear(spec, 2, 3)
    assert {k: tuple(v.shape) for k, v in layer.embeddings.items()} == {
        "input": (2, 18),
        "output": (3, 2),
        "output_bias": (3, 2),
    }
    assert repr(layer).startswith("NPLinear(spec='cnn 2-4-3-3 k3x3 relu', in_channels=2")
    assert "io_embed=True" in repr(layer)
    assert repr(HNPLinear(spec, 2, 3)).endswith("io='hnp')")


@pytest.mark.parametrize("spec", [*SPECS, mlp_spec((3, 2))], ids=[*IDS, "one-layer"])
def test_io_embed_equals_adding_the_embeddings_to_the_inputs(spec):
    """The embeddings are applied through pooled features, never materialized: check."""
    torch.manual_seed(0)
    layer = NPLinear(spec, 2, 3).double()
    plain = NPLinear(spec, 2, 3, io_embed=False).double()
    plain.load_state_dict(layer.state_dict(), strict=False)
    ws = random_weightspace(spec, batch_size=3, channels=2).to(torch.float64)
    emb = layer.embeddings
    first, last = spec.layers[0], spec.layers[-1]
    weights, biases = list(ws.weights), list(ws.biases)
    shape0 = (1, 1, first.n_in, *first.kernel, 2)
    weights[0] = weights[0] + emb["input"].reshape(shape0)
    shape_last = (1, last.n_out, 1, *last.kernel, 2)
    weights[-1] = weights[-1] + emb["output"].reshape(shape_last)
    biases[-1] = biases[-1] + emb["output_bias"]
    expected = plain(type(ws)(tuple(weights), tuple(biases)))
    assert layer(ws).allclose(expected, atol=1e-10)
