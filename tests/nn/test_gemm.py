import pytest
import torch

from weightnet.nn import gemm
from weightnet.nn.gemm import matmul


@pytest.fixture
def always_onednn(monkeypatch):
    if not gemm._ONEDNN:
        pytest.skip("oneDNN's inner product is not in this PyTorch build")
    monkeypatch.setattr(gemm, "_ONEDNN_MIN_MACS", 0)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("transposed", [False, True], ids=["contiguous", "transposed"])
def test_matches_torch_forward_and_backward(always_onednn, bias, transposed):
    torch.manual_seed(0)
    x = torch.randn(4, 6, 7, requires_grad=True)  # (B, n, K)
    w = torch.randn(5, 7).t() if transposed else torch.randn(7, 5)  # (K, N), strided or not
    w.requires_grad_(True)
    b = torch.randn(5, requires_grad=True) if bias else None
    out = matmul(x, w, b)
    assert out.grad_fn is not None and "OneDNN" in type(out.grad_fn).__name__
    expected = x @ w + (b if bias else 0)
    assert out.shape == (4, 6, 5)
    assert torch.allclose(out, expected, atol=1e-5)
    upstream = torch.randn(4, 6, 5)
    inputs = [x, w] + ([b] if bias else [])
    got = torch.autograd.grad(out, inputs, upstream)
    want = torch.autograd.grad(expected, inputs, upstream)
    for g, e in zip(got, want, strict=True):
        assert torch.allclose(g, e, atol=1e-4)


def test_double_backward(always_onednn):
    torch.manual_seed(0)
    x = torch.randn(3, 4, requires_grad=True)
    w = torch.randn(4, 2, requires_grad=True)
    (gx,) = torch.autograd.grad(matmul(x, w).square().sum(), x, create_graph=True)
    (gw,) = torch.autograd.grad(gx.sum(), w)
    (gx_ref,) = torch.autograd.grad((x @ w).square().sum(), x, create_graph=True)
    (gw_ref,) = torch.autograd.grad(gx_ref.sum(), w)
    assert torch.allclose(gw, gw_ref, atol=1e-4)


def test_small_or_float64_products_use_torch():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    assert "OneDNN" not in type(matmul(x, w).grad_fn).__name__
    assert torch.autograd.gradcheck(matmul, (x, w))
    small = matmul(x.float(), w.float())
    assert "OneDNN" not in type(small.grad_fn).__name__


def test_bf16_products_are_close_and_float32(always_onednn):
    torch.manual_seed(0)
    x = torch.randn(64, 48, requires_grad=True)
    w = torch.randn(48, 40, requires_grad=True)
    b = torch.randn(40, requires_grad=True)
    out = matmul(x, w, b, bf16=True)
    expected = x @ w + b
    assert out.dtype == torch.float32
    assert 0 < (out - expected).norm() / expected.norm() < 1e-2  # rounded, but close
    upstream = torch.randn(64, 40)
    got = torch.autograd.grad(out, [x, w, b], upstream)
    want = torch.autograd.grad(expected, [x, w, b], upstream)
    for g, e in zip(got, want, strict=True):
        assert g.dtype == torch.float32
        assert (g - e).norm() / e.norm() < 1e-2
    assert torch.equal(got[2], want[2])  # the bias gradient is a float32 sum


def test_bf16_is_ignored_off_the_onednn_path():
    x, w = torch.randn(3, 4, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    assert torch.equal(matmul(x, w, bf16=True), x @ w)


def test_a_strided_x_takes_onednn_only_for_a_large_result(always_onednn, monkeypatch):
    monkeypatch.setattr(gemm, "_ONEDNN_MIN_STRIDED", 8)
    torch.manual_seed(0)
    long = torch.randn(64, 6, requires_grad=True)  # a weight gradient's X^T: (6, 64) strided
    grad = torch.randn(64, 5)
    small = matmul(long.t(), grad)  # (6, 5) result: torch.matmul reads the view as it is
    assert small.grad_fn is not None and "OneDNN" not in type(small.grad_fn).__name__
    torch.testing.assert_close(small, long.t() @ grad)
    rounded = matmul(long.t(), grad, bf16=True)  # bf16 rounding never depends on the layout
    assert "OneDNN" in type(rounded.grad_fn).__name__
    wide = torch.randn(64, 9, requires_grad=True)
    large = matmul(wide.t(), torch.randn(64, 8))  # (9, 8) result: copied, then oneDNN
    assert "OneDNN" in type(large.grad_fn).__name__
    contiguous = matmul(torch.randn(6, 64, requires_grad=True), grad)  # any result size
    assert "OneDNN" in type(contiguous.grad_fn).__name__
