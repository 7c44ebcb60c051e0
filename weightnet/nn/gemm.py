r"""Dense products of the equivariant layers, run by oneDNN on the CPU.

PyTorch sends a float32 ``x @ w`` on the CPU to its BLAS (MKL), which on non-Intel
processors takes a slow generic path; oneDNN's inner-product kernels pick the best
instruction set of any x86 processor. Measured on one AMD EPYC core (AVX-512), oneDNN is
2-3.8x faster for the folded feature maps of the HNP/NP/DWS layers (``2048 x 2112 x
2112``: 83 vs 35 GFLOP/s, forward and backward), and as fast as MKL on Intel processors.

:func:`matmul` is ``x @ weight + bias`` with its backward written as the same oneDNN
products (the backward of a product is two products), so forward and backward both get
the fast kernels. Small products, other devices and dtypes use ``torch.matmul``.

``bf16=True`` (opt-in) rounds the two factors of every large product (forward and
backward) to bfloat16 and its result back to float32, as CPU autocast does; parameters,
optimizer state and everything else stay float32. On processors with AVX-512 BF16 this
doubles the product's speed (230 vs 110 GFLOP/s on the core above), at bfloat16's
relative precision of ``2**-8`` per rounded value.
"""

from __future__ import annotations

import platform

import torch
from torch import Tensor

__all__ = ["matmul"]

#: Products with fewer multiply-adds go to ``torch.matmul`` (oneDNN's per-call overhead).
_ONEDNN_MIN_MACS = 2**20
#: A strided ``x`` goes to oneDNN only when both sides of the result are at least this long.
_ONEDNN_MIN_STRIDED = 256


def _onednn_available() -> bool:
    """oneDNN's inner product is registered (x86 builds with MKLDNN; measured there only)."""
    return (
        platform.machine().lower() in ("x86_64", "amd64")
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    )


_ONEDNN = _onednn_available()


def _use_onednn(x: Tensor, weight: Tensor, bf16: bool) -> bool:
    """Large float32 CPU products, except a strided ``x`` with a small result in float32.

    oneDNN copies a strided ``x`` (a transposed view, as in a weight gradient ``X^T G``)
    before multiplying; when the result is small (``K x N`` over a long reduction) that
    copy costs more than the product, and MKL reads the view as it is. With ``bf16`` every
    large product stays on oneDNN, so that the rounding never depends on memory layout.
    """
    return (
        _ONEDNN
        and x.device.type == "cpu"
        and x.dtype == weight.dtype == torch.float32
        and x.numel() * weight.shape[1] >= _ONEDNN_MIN_MACS
        and (bf16 or x.is_contiguous() or min(x.shape[-2], weight.shape[1]) >= _ONEDNN_MIN_STRIDED)
    )


def _product(x: Tensor, weight: Tensor, bf16: bool) -> Tensor:
    """``x @ weight`` for ``x (M, K)``, ``weight (K, N)`` (any strides), float32 result."""
    if bf16:
        x, weight = x.to(torch.bfloat16), weight.to(torch.bfloat16)
    out = torch.ops.mkldnn._linear_pointwise(x, weight.t(), None, "none", [], "")
    return out.float()


class _OneDNNMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, bf16: bool) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias, ctx.bf16 = bias is not None, bf16
        out = _product(x.reshape(-1, x.shape[-1]), weight, bf16)  # (M, N)
        if bias is not None:
            out += bias
        return out.view(*x.shape[:-1], weight.shape[1])

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        flat_grad = grad.reshape(-1, grad.shape[-1])  # (M, N)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = matmul(flat_grad, weight.t(), bf16=ctx.bf16).view(x.shape)  # (..., K)
        if ctx.needs_input_grad[1]:
            flat_x = x.reshape(-1, x.shape[-1])  # (M, K)
            if weight.stride(0) == 1 and weight.stride(1) != 1:  # a transposed (N, K) parameter
                grad_w = matmul(flat_grad.t(), flat_x, bf16=ctx.bf16).t()  # no copy when stored
            else:
                grad_w = matmul(flat_x.t(), flat_grad, bf16=ctx.bf16)  # (K, N)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = flat_grad.sum(0)
        return grad_x, grad_w, grad_b, None


def matmul(x: Tensor, weight: Tensor, bias: Tensor | None = None, bf16: bool = False) -> Tensor:
    """``x @ weight (+ bias)``, through oneDNN on the CPU when the product is large.

    Args:
        x: ``(..., K)``.
        weight: ``(K, N)`` (any strides; ``linear.weight.t()`` for an ``nn.Linear``).
        bias: ``(N,)`` or ``None``.
        bf16: round the factors of the oneDNN products (forward and backward) to bfloat16.

    Returns:
        ``(..., N)``; differentiable (twice, too: the backward is made of :func:`matmul`).
    """
    if not _use_onednn(x, weight, bf16):
        out = x @ weight
        return out if bias is None else out + bias
    return _OneDNNMatmul.apply(x, weight, bias, bf16)
