"""Triplet Attention.

Misra, Nalamada, Arasanipalai, Hou, "Rotate to Attend: Convolutional Triplet
Attention Module", WACV 2021, arXiv:2010.03045. Three branches capture the (C, W),
(C, H) and (H, W) interactions: each rotates the tensor, Z-pools over its first axis
(``[max; mean]`` in the paper's Eq. 1 and in the authors' code), runs a k x k
convolution with BN and a sigmoid, and gates the rotated tensor. The three results are
averaged. Default k = 7. Options for the authors' released weights: ``bn_momentum``
(theirs 0.01; default 0.1, torch's, which only matters in training) and ``bn_eps``
(1e-5, as theirs). ``pool_order='mean_max'`` gives CBAM's order instead.
"""

import torch

from .cbam import SpatialGate
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
        # Rotations are made contiguous (as the authors' code does): products and sums of
        # tensors in two memory layouts make torch.export guard on strides.
        x_cw = x.permute(0, 2, 1, 3).contiguous()                     # N, H, C, W: pools over H
        out_cw = (x_cw * self.gate_cw(x_cw)).permute(0, 2, 1, 3).contiguous()
        x_hc = x.permute(0, 3, 2, 1).contiguous()                     # N, W, H, C: pools over W
        out_hc = (x_hc * self.gate_hc(x_hc)).permute(0, 3, 2, 1).contiguous()
        rotated = out_cw + out_hc
        # x * gate_hw is the last product that reads x: with inplace, it goes into x.
        return apply_gate(x, self.gate_hw(x), self.inplace).add_(rotated).mul_(1.0 / 3.0)
