import pytest
import torch

from weightnet.nn.matmul import matmul_nt


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_matches_torch_mm(dtype):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 7, generator=gen, dtype=dtype)
    w = torch.randn(5, 7, generator=gen, dtype=dtype)
    out = matmul_nt(x, w)
    assert out.shape == (1000, 5) and out.is_contiguous()
    torch.testing.assert_close(out, x @ w.T)
    # transposed (non-contiguous) operands
    w_t = torch.randn(5, 3, generator=gen, dtype=dtype).T  # (3, 5)
    torch.testing.assert_close(matmul_nt(x[:, :5], w_t), x[:, :5] @ w_t.T)
