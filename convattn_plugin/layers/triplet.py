"""Triplet Attention.

Misra, Nalamada, Arasanipalai, Hou, "Rotate to Attend: Convolutional Triplet
Attention Module", WACV 2021, arXiv:2010.03045. Three branches capture the (C, W),
(C, H) and (H, W) interactions: each rotates the tensor, Z-pools over its first axis
(``[max; mean]`` in the paper's Eq. 1 and in the authors' code), runs a k x k
convolution with BN and a sigmoid, and gates the rotated tensor. The three results are
averaged. Default k = 7. Options for the authors' released weights: ``bn_momentum``
(theirs 0.01; default 0.1, torch's, which only matters in training) and ``bn_eps``
(1e-5, as theirs). ``pool_order='mean_max'`` gives CBAM's order instead.

Fast path (:mod:`~convattn_plugin.layers.fast_paths`, off under ``plain_forward()``, which runs
:meth:`TripletAttention.rotating_forward`): one product with the sum of the back-rotated gates;
the Z-pool's maxima as in CBAM.
"""

import torch

from .cbam import SpatialGate
from .fast_paths import fast_paths_enabled, max_along
from .helpers import GatingModule, apply_gate
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')


@register_attention('triplet', paper='Triplet Attention (Misra et al., WACV 2021)', arxiv='2010.03045')
class TripletAttention(GatingModule):
    """Average of three rotated Z-pool gates.

    Args:
        channels: Input and output channels (checked; the weights do not depend on it).
        kernel_size: Kernel of each branch's convolution.
        pool_order: ``'max_mean'`` (paper and authors, default) or ``'mean_max'``.
        bn_momentum: Momentum of each branch's BN (default 0.1; authors 0.01).
        bn_eps: Epsilon of each branch's BN (1e-5, as the authors').
        inplace: Change the input itself in inference instead of allocating the output,
            for inference only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s).
            Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            kernel_size: int = 7,
            pool_order: str = 'max_mean',
            bn_momentum: float = 0.1,
            bn_eps: float = 1e-5,
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        # Each branch is CBAM's spatial gate (Z-pool, conv, BN, sigmoid) on a rotation.
        options = dict(kernel_size=kernel_size, bn_momentum=bn_momentum, bn_eps=bn_eps, pool_order=pool_order,
                       owner=self.class_name, device=device, dtype=dtype)
        self.gate_cw = SpatialGate(**options)
        self.gate_hc = SpatialGate(**options)
        self.gate_hw = SpatialGate(**options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if not torch.jit.is_scripting():
            if not fast_paths_enabled():
                return self.rotating_forward(x)
        # The fast path 'triplet_summed_gates': a rotation's gate, rotated back, is a gate of x
        # broadcast along the axis it pooled, so the paper's form (rotating_forward) is
        # x * (g_hw + g_cw + g_hc) / 3 with only the small pooled maps rotated: no copy of x,
        # one product instead of three.
        g_cw = self.gate_cw.from_pooled(self._z_pool(x, 2)).permute(0, 2, 1, 3)  # (N, C, 1, W)
        g_hc = self.gate_hc.from_pooled(self._z_pool(x, 3).transpose(2, 3)).permute(0, 3, 2, 1)  # (N, C, H, 1)
        gates = (self.gate_hw(x) + g_cw + g_hc).mul_(1.0 / 3.0)
        return _gate_with_own_map(x, gates, self.inplace)

    def rotating_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The paper's (and the authors') form: gate x and two rotations of it, rotate back, average."""
        out_cw = self._rotated_branch(self.gate_cw, x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
        out_hc = self._rotated_branch(self.gate_hc, x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
        return (self._rotated_branch(self.gate_hw, x) + out_cw + out_hc) / 3

    @staticmethod
    def _rotated_branch(gate: SpatialGate, t: torch.Tensor) -> torch.Tensor:
        return t * gate(t)

    def _z_pool(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        """``[max; mean]`` of ``x`` over ``dim`` (2 or 3) as a 2-channel map (``pool_order``)."""
        maximum = max_along(x, dim)
        mean = x.mean(dim)
        pair = [mean, maximum] if self.gate_hw.pool_order == 'mean_max' else [maximum, mean]
        return torch.stack(pair, dim=1)


@torch.fx.wrap
def _gate_with_own_map(x: torch.Tensor, gates: torch.Tensor, inplace: bool) -> torch.Tensor:
    """``x * gates`` where ``gates`` is a full-size map of the caller's own.

    In inference the product goes into ``x`` with ``inplace``, else into ``gates`` when it
    is laid out as ``x``; otherwise (and under autograd) it is a new tensor in ``x``'s
    memory format (e.g. channels-last).
    """
    if inplace or gates.stride() != x.stride():
        return apply_gate(x, gates, inplace)
    return apply_gate(gates, x, inplace=True)
