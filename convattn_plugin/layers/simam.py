"""SimAM: a parameter-free attention from an energy function.

Yang, Zhang, Li, Xie, "SimAM: A Simple, Parameter-Free Attention Module for
Convolutional Neural Networks", ICML 2021 (no arXiv version; PMLR 139:11863-11874).
Each neuron's inverse minimal energy,
``(x - mu)^2 / (4 (sigma^2 + lambda)) + 1/2`` with per-channel mean ``mu`` and
variance ``sigma^2`` over the ``H*W - 1`` other positions, gates it through a sigmoid.
Default ``lambda = 1e-4``: the paper's value and the authors' module default (found on
CIFAR). The authors' ImageNet models were trained with ``e_lambda=0.1``; use that to load
their weights (the model builders set it for those). The formula is the authors' to the
letter, including the ``H*W - 1`` divisor.
"""

import torch

from .checks import check_number
from .helpers import GatingModule, apply_gate
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')


@register_attention('simam', paper='SimAM (Yang et al., ICML 2021), parameter-free', arxiv='')
class SimAM(GatingModule):
    """``x * sigmoid(energy^-1)``, no learnable parameters.

    Args:
        channels: Input and output channels (checked, not used by any weight).
        e_lambda: The regulariser ``lambda`` of the energy function.
        inplace: Change the input itself in inference instead of allocating the output,
            for inference only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s).
            Default ``False``.
    """

    def __init__(self, channels: int, e_lambda: float = 1e-4, inplace: bool = False, device=None, dtype=None) -> None:
        super().__init__(channels, inplace)
        self.e_lambda = check_number(e_lambda, 'e_lambda', self.class_name)
        self.gate = torch.nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        d = (x - x.mean((2, 3), keepdim=True)).pow(2)
        v = d.sum((2, 3), keepdim=True) / other_positions(x)
        return apply_gate(x, self.gate(d / (4 * (v + self.e_lambda)) + 0.5), self.inplace)


@torch.fx.wrap
def other_positions(x: torch.Tensor) -> int:
    """``H*W - 1``, the count the variance is divided by; 1 for a 1x1 map (variance 0, not 0/0)."""
    n = x.shape[2] * x.shape[3] - 1
    return n if n > 1 else 1
