"""Selective Kernel (SK) unit.

Li, Wang, Hu, Yang, "Selective Kernel Networks", CVPR 2019, arXiv:1903.06586. M = 2 branches
convolve the same input with different receptive fields (3x3, and 5x5 as a 3x3 with
dilation 2), each followed by BN and ReLU (split); their sum is globally pooled and squeezed
to ``d = max(C / r, L)`` channels (r = 16, L = 32) with BN and ReLU (fuse); one 1x1 conv per
branch gives its logits, a softmax across the branches weights each channel, and the weighted
branches are summed (select). As the authors' SKNet-50/101 (implus/SKNet prototxts: ResNeXt
units ``3x3g32`` and ``3x3g32d2``, ``B_fc1`` + BN + ReLU, ``B_fc2``, softmax over branches) the
branch convolutions have G = 32 groups and no convolution has a bias.

SKNet replaces a block's 3x3 convolution (with its BN and ReLU) by this unit. Here it is a
same-channel unit (``C -> C``) built as ``cls(channels)``; ``stride=2`` lets it stand where a
bottleneck's strided 3x3 conv was (the paper's placement: the ResNet models'
``attn_position='conv2'``, their default for ``sk``), and at stride 1 it can also be added where
the other kinds go. Options cover the second reference, timm's ``SelectiveKernel``: the layers
are named as timm's (``paths.{i}.conv`` / ``.bn``, ``attn.fc_reduce`` / ``.bn`` / ``.fc_select``),
``split_input=True`` is timm's split of the input channels across the branches (the paper gives
every branch the whole input: default ``False``), and ``rd_channels`` sets timm's width. ``groups=None`` is the paper's 32 where it divides ``C``, else the largest
count below 32 that does (timm's ``skresnet18/34`` use ``groups=1``). ``groups`` may also give one
value per branch: the SK-ResNets of the SKNet authors' PyTorch library (implus/PytorchInsight
``resnet_sk.py``) have two 3x3 branches without dilation, one plain and one with 32 groups
(``dilations=(1, 1), groups=(1, 32)``), and a fuse layer ``C // 16`` wide (``min_rd_channels=1``).
"""

from typing import Optional, Sequence, Type, Union

import torch
import torch.nn as nn

from .checks import check_flag, check_int
from .grouping import resolve_groups
from .helpers import AttentionModule, GateBatchNorm2d, softmax_fp32
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('softmax_fp32')

__all__ = ['SelectiveKernel']


class _ConvBnAct(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, dilation: int, groups: int,
                 act_layer: Type[nn.Module], stride: int = 1, device=None, dtype=None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=dilation, dilation=dilation,
                              groups=groups, bias=False, device=device, dtype=dtype)
        self.bn = GateBatchNorm2d(out_channels, device=device, dtype=dtype)
        self.act = act_layer(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class _SelectAttn(nn.Module):
    """Fuse and select: logits ``(N, M, C, 1, 1)`` from the pooled sum of the branches, softmax over M."""

    def __init__(self, channels: int, num_paths: int, rd: int, act_layer: Type[nn.Module], device=None,
                 dtype=None) -> None:
        super().__init__()
        self.num_paths = num_paths
        self.fc_reduce = nn.Conv2d(channels, rd, 1, bias=False, device=device, dtype=dtype)
        self.bn = GateBatchNorm2d(rd, device=device, dtype=dtype)
        self.act = act_layer(inplace=True)
        self.fc_select = nn.Conv2d(rd, channels * num_paths, 1, bias=False, device=device, dtype=dtype)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits = self.fc_select(self.act(self.bn(self.fc_reduce(pooled))))
        n = logits.shape[0]
        return softmax_fp32(logits.view(n, self.num_paths, -1, 1, 1), 1)


@register_attention('sk', paper='Selective Kernel Networks (Li et al., CVPR 2019)', arxiv='1903.06586')
class SelectiveKernel(AttentionModule):
    """Branches of different dilation, weighted per channel by a softmax across the branches.

    Args:
        channels: Input and output channels.
        dilations: Dilation of each branch's 3x3 convolution (paper: 3x3 and 5x5 = (1, 2)).
        groups: Groups of the branch convolutions; ``None``: 32 (the paper's) or the largest
            divisor of the branch's input width below it. An explicit value must divide it. A
            sequence gives one value (int or ``None``) per branch (PytorchInsight's ``(1, 32)``).
        reduction: The paper's r: the fuse layer is ``max(C // r, L)`` wide.
        min_rd_channels: The paper's L = 32, the least width of the fuse layer.
        rd_channels: Width of the fuse layer, overrides ``reduction`` and ``min_rd_channels``
            (timm's ``SelectiveKernel`` uses ``C / 16`` rounded to a multiple of 8, at least 8).
        split_input: Give each branch ``C / M`` of the input channels (timm's), not all (paper's).
        act_layer: Activation of the branches and of the fuse layer.
        stride: Stride of the branch convolutions: 2 where the unit replaces a strided 3x3 conv
            (the output is then ``ceil(H / 2) x ceil(W / 2)``).
    """

    def __init__(
            self,
            channels: int,
            dilations: Sequence[int] = (1, 2),
            groups: Union[int, None, Sequence[Optional[int]]] = None,
            reduction: int = 16,
            min_rd_channels: int = 32,
            rd_channels: Optional[int] = None,
            split_input: bool = False,
            act_layer: Type[nn.Module] = nn.ReLU,
            stride: int = 1,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels)
        owner = self.class_name
        dd = dict(device=device, dtype=dtype)
        if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Sequence) or not 2 <= len(dilations) <= 4:
            raise ValueError(f'{owner}: dilations must be a sequence of 2 to 4 ints (one per branch, the paper\'s '
                             f'(1, 2)), got {dilations!r}')
        self.dilations = [check_int(d, 'dilations', owner, 1, 32) for d in dilations]
        self.num_paths = len(self.dilations)
        self.split_input = check_flag(split_input, 'split_input', owner)
        in_width = channels
        if split_input:
            if channels % self.num_paths:
                raise ValueError(f'{owner}: split_input needs channels ({channels}) divisible by the number of '
                                 f'branches ({self.num_paths})')
            in_width = channels // self.num_paths
        per_path = list(groups) if isinstance(groups, Sequence) and not isinstance(groups, (str, bytes)) else None
        if per_path is not None and len(per_path) != self.num_paths:
            raise ValueError(f'{owner}: groups as a sequence needs one value per branch ({self.num_paths}), '
                             f'got {groups!r}')
        path_groups = [resolve_groups(in_width, g, 32, owner) for g in (per_path or [groups] * self.num_paths)]
        for g in path_groups:
            if channels % g:
                raise ValueError(f'{owner}: channels ({channels}) must be divisible by groups ({g})')
        self.path_groups = path_groups
        self.groups = path_groups[0] if len(set(path_groups)) == 1 else tuple(path_groups)
        self.stride = check_int(stride, 'stride', owner, 1, 2)
        check_int(reduction, 'reduction', owner, 1, 1024)
        check_int(min_rd_channels, 'min_rd_channels', owner, 1, max(channels, 32))
        if rd_channels is None:   # the paper's d = max(C / r, L)
            rd = max(channels // reduction, min_rd_channels)
        else:
            rd = check_int(rd_channels, 'rd_channels', owner, 1, max(channels, 32))
        self.paths = nn.ModuleList([_ConvBnAct(in_width, channels, d, g, act_layer, self.stride, **dd)
                                    for d, g in zip(self.dilations, path_groups)])
        self.attn = _SelectAttn(channels, self.num_paths, rd, act_layer, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if self.split_input:
            inputs = torch.split(x, self.channels // self.num_paths, 1)
            branches = [path(inputs[i]) for i, path in enumerate(self.paths)]
        else:
            branches = [path(x) for path in self.paths]
        total = branches[0]
        for b in branches[1:]:
            total = total + b
        weights = self.attn(total.mean((2, 3), keepdim=True)).to(x.dtype)   # N, M, C, 1, 1
        out = branches[0] * weights[:, 0]
        for i in range(1, self.num_paths):
            out = out + branches[i] * weights[:, i]
        return out

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, dilations={tuple(self.dilations)}, groups={self.groups}, '
                f'split_input={self.split_input}' + (f', stride={self.stride}' if self.stride != 1 else ''))
