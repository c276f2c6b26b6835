"""Dot-product attention over flattened positions or channels, softmax in fp32.

The quadratic kinds (``selfattn``, ``dualattn``, ``nonlocal``) all reduce to
``softmax(q @ k^T * scale) @ v``. :func:`dot_product_attention` computes it with
``torch.nn.functional.scaled_dot_product_attention`` (fused kernels, no (L, S) matrix
kept for backward on GPU) or, for checking, with the explicit formula. Both run in
fp32 even under autocast: scores of unnormalised features overflow bf16/fp16.
"""

import torch
import torch.nn.functional as F

from .helpers import full_precision

__all__ = ['dot_product_attention']


@torch.fx.wrap
def dot_product_attention(
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        scale: float = 1.0,
        use_sdpa: bool = True,
) -> torch.Tensor:
    """``softmax(q @ k^T * scale, dim=-1) @ v``, computed in fp32, returned in ``v``'s dtype.

    Args:
        q: Queries, shape ``(N, L, E)``.
        k: Keys, shape ``(N, S, E)``.
        v: Values, shape ``(N, S, Ev)``.
        scale: Factor on the scores. The papers of these kinds use plain dot products
            (1.0), not the transformer's ``1/sqrt(E)``.
        use_sdpa: Use PyTorch's fused kernel; ``False`` spells the formula out.

    Returns:
        Shape ``(N, L, Ev)``.
    """
    out_dtype = v.dtype
    if not torch.jit.is_scripting():
        with full_precision(q.device):
            return _attention_fp32(q, k, v, scale, use_sdpa).to(out_dtype)
    return _attention_fp32(q, k, v, scale, use_sdpa).to(out_dtype)


def _attention_fp32(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, use_sdpa: bool) -> torch.Tensor:
    q, k, v = q.float(), k.float(), v.float()
    if use_sdpa:
        # A head axis of 1: ONNX export of SDPA handles (N, heads, L, E) only.
        return F.scaled_dot_product_attention(
            q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1), scale=scale).squeeze(1)
    attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * scale, dim=-1)
    return torch.matmul(attn, v)
