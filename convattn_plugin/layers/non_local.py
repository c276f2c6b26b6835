"""Non-local block, embedded Gaussian form.

Wang, Girshick, Gupta, He, "Non-local Neural Networks", CVPR 2018, arXiv:1711.07971.
``z = x + BN(W_z y)``, ``y = softmax(theta(x)^T phi(x) / sqrt(d)) g(x)`` with theta, phi
and g 1x1 projections to d = C/2 channels. The BN after ``W_z`` starts with zero scale so
a new block is the identity (the paper's initialisation).

* ``use_scale`` (default ``True``): the ``1/sqrt(d)`` factor on the scores. The paper's
  equation has none; the authors' released configurations and mmcv's ``NonLocal2d``
  turn it on (it keeps the softmax from saturating as d grows), so it is the default.
* ``sub_sample`` (default ``False``): max-pool phi and g by 2 (2x2 window, stride 2, as
  the authors and mmcv do), the paper's cheaper variant; off by default because the
  models place the block on the last stages, whose 14x14 and 7x7 maps are small already.
* Width: C/2 rounded to nearest (default) or ``rd_rounding='floor'``, the authors'
  ``C // 2`` (mmcv's ``max(C // 2, 1)``).
"""

from typing import Optional

import torch
import torch.nn as nn

from .attention_ops import dot_product_attention
from .checks import check_flag
from .helpers import AttentionModule, GateBatchNorm2d, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('dot_product_attention')


@register_attention('nonlocal', paper='Non-local block, embedded Gaussian (Wang et al., CVPR 2018)',
                    arxiv='1711.07971', quadratic=True)
class NonLocal2d(AttentionModule):
    """Embedded-Gaussian non-local block with a zero-initialised residual.

    Args:
        channels: Input and output channels.
        rd_ratio: Width of theta, phi and g as a fraction of ``channels`` (1/2).
        rd_channels: That width, overrides ``rd_ratio``.
        sub_sample: Max-pool phi and g by 2 (needs H, W >= 2). Default ``False``.
        use_scale: Divide the scores by ``sqrt(d)``, as the authors' configs and mmcv.
            Default ``True``.
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``C // 2``).
        use_sdpa: Use ``scaled_dot_product_attention``; ``False`` spells the formula out.
    """

    def __init__(
            self,
            channels: int,
            rd_ratio: float = 1 / 2,
            rd_channels: Optional[int] = None,
            sub_sample: bool = False,
            use_scale: bool = True,
            rd_rounding: str = 'round',
            use_sdpa: bool = True,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        dd = dict(device=device, dtype=dtype)
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=self.class_name, rounding=rd_rounding)
        self.scale = rd ** -0.5 if check_flag(use_scale, 'use_scale', self.class_name) else 1.0
        self.theta = nn.Conv2d(channels, rd, 1, **dd)
        self.phi = nn.Conv2d(channels, rd, 1, **dd)
        self.g = nn.Conv2d(channels, rd, 1, **dd)
        self.pool = nn.MaxPool2d(2) if check_flag(sub_sample, 'sub_sample', self.class_name) else nn.Identity()
        self.out_conv = nn.Conv2d(rd, channels, 1, bias=False, **dd)  # BN follows
        self.out_norm = GateBatchNorm2d(channels, **dd)
        nn.init.zeros_(self.out_norm.weight)
        self.use_sdpa = check_flag(use_sdpa, 'use_sdpa', self.class_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        n, _, h, w = x.shape
        q = self.theta(x).flatten(2).transpose(1, 2)             # N, HW, C/2
        k = self.pool(self.phi(x)).flatten(2).transpose(1, 2)    # N, HW', C/2
        v = self.pool(self.g(x)).flatten(2).transpose(1, 2)      # N, HW', C/2
        y = dot_product_attention(q, k, v, scale=self.scale, use_sdpa=self.use_sdpa)
        # NCHW-contiguous: adding two memory layouts makes torch.export guard on strides.
        y = y.transpose(1, 2).contiguous().view(n, -1, h, w)
        return x + self.out_norm(self.out_conv(y))
