"""Bottleneck Attention Module.

Park, Woo, Lee, Kweon, "BAM: Bottleneck Attention Module", BMVC 2018,
arXiv:1807.06514. ``F' = F + F * M(F)`` with a channel branch ``Mc`` (an MLP over the
average-pooled descriptor, C -> C/r -> C) and a spatial branch ``Ms`` (1x1 reduce to C/r,
dilated 3x3 convolutions, 1x1 projection to one map). Two forms, both exactly:

* ``form='paper'`` (default), the paper's Eqs. 1-4: ``M = sigmoid(Mc + Ms)``,
  ``Mc = BN(MLP(AvgPool(F)))``, ``Ms = BN(f_1x1(f_3x3(f_3x3(f_1x1(F)))))``: one BN at the
  end of each branch, ReLU between the layers (the equations leave the activation out).
* ``form='official'``, the authors' released code (the one their ImageNet weights were
  trained with): ``M = sigmoid(Mc * Ms)`` (a product, not a sum), BN and ReLU after
  every hidden layer, no BN at the end of either branch, biases on every convolution.
  (Their channel pooling uses an H x H window, global only on square maps; here the mean
  is over the whole map, the same on every square map.)

Defaults: r = 16, two dilated convolutions with dilation 4. Width: ``C/r`` rounded to the
nearest int (``rd_rounding='floor'`` gives the authors' ``C // r``; the two agree at every
ResNet width). The paper places BAM between stages, the models decide where it goes.
"""

from typing import List, Optional, Type

import torch
import torch.nn as nn

from .checks import MAX_KERNEL_SIZE, check_choice, check_int
from .helpers import GatingModule, GateBatchNorm2d, apply_gate, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')

# The paper uses 2; the bound stops a typo from stacking thousands of layers.
MAX_DILATED_CONVS = 8
BAM_FORMS = ['paper', 'official']


@register_attention('bam', paper='BAM (Park et al., BMVC 2018)', arxiv='1807.06514')
class BottleneckAttention(GatingModule):
    """``x * (1 + M(x))`` from a channel and a spatial branch (see the module docstring).

    Args:
        channels: Input and output channels.
        rd_ratio: Bottleneck width of both branches as a fraction of ``channels`` (1/r).
        rd_channels: Bottleneck width, overrides ``rd_ratio``.
        dilation: Dilation of the spatial branch's 3x3 convolutions.
        num_dilated_convs: How many dilated 3x3 convolutions the spatial branch has.
        act_layer: Activation inside both branches.
        form: ``'paper'`` (default: the published equations) or ``'official'`` (the
            authors' code, for their weights).
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``C // r``).
        inplace: Change the input itself in inference instead of allocating the output,
            for inference only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s).
            Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 16,
            rd_channels: Optional[int] = None,
            dilation: int = 4,
            num_dilated_convs: int = 2,
            act_layer: Type[nn.Module] = nn.ReLU,
            form: str = 'paper',
            rd_rounding: str = 'round',
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name, rounding=rd_rounding)
        check_int(dilation, 'dilation', self.class_name, 1, MAX_KERNEL_SIZE)
        check_int(num_dilated_convs, 'num_dilated_convs', self.class_name, 0, MAX_DILATED_CONVS)
        self.form = check_choice(form, 'form', self.class_name, BAM_FORMS)
        official = form == 'official'

        def hidden(cin: int, cout: int, kernel_size: int = 1, dil: int = 1) -> List[nn.Module]:
            # Paper: conv (bias) + ReLU. Official: conv (bias, as released) + BN + ReLU.
            conv = nn.Conv2d(cin, cout, kernel_size, padding=dil if kernel_size == 3 else 0, dilation=dil, **dd)
            return [conv, GateBatchNorm2d(cout, **dd), act_layer(inplace=True)] if official else [
                conv, act_layer(inplace=True)]

        def last(cin: int, cout: int) -> List[nn.Module]:
            # Paper: BN at the end (its shift absorbs a bias). Official: a plain conv with bias.
            if official:
                return [nn.Conv2d(cin, cout, 1, **dd)]
            return [nn.Conv2d(cin, cout, 1, bias=False, **dd), GateBatchNorm2d(cout, **dd)]

        self.channel_branch = nn.Sequential(*hidden(channels, rd), *last(rd, channels))
        spatial = hidden(channels, rd)
        for _ in range(num_dilated_convs):
            spatial += hidden(rd, rd, 3, dilation)
        self.spatial_branch = nn.Sequential(*spatial, *last(rd, 1))
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        channel = self.channel_branch(x.mean((2, 3), keepdim=True))   # N, C, 1, 1
        spatial = self.spatial_branch(x)                              # N, 1, H, W
        logits = channel * spatial if self.form == 'official' else channel + spatial
        return apply_gate(x, 1.0 + self.gate(logits), self.inplace)  # x + x * M(x)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, form={self.form!r}'
