"""The SimAM authors' ResNeXt-50 (32x4d) with SimAM, their parameter names (ZjjConan/SimAM).

Read from their ``networks/imagenet/resnet.py``: torchvision's ``ResNet`` / ``Bottleneck`` with
``groups=32, width_per_group=4`` (``resnext50_32x4d``), so a bottleneck is ``width = int(planes *
base_width / 64) * groups`` wide and its 3x3 ``conv2`` has 32 groups (with the stage's stride,
ResNet v1.5). For SimAM (``module_name == 'simam'``) ``conv2`` becomes ``nn.Sequential(conv2,
SimAM(width))``: keys ``layer{i}.{j}.conv2.0.weight``. ``downsample`` is ``Sequential(1x1 conv, BN)``;
their pooling is adaptive (``AdaptiveAvgPool2d((1, 1))``), so the tests run at 64 px unchanged.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .attention_modules import SimAM
from .bottleneck_resnet import LAYERS, BottleneckResNet


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, groups: int = 1,
                 base_width: int = 64, e_lambda: float = 0.1) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Sequential(
            nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups, bias=False), SimAM(width, e_lambda))
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


def authors_simam_resnext50_32x4d(e_lambda: float = 0.1) -> BottleneckResNet:
    """Their ``resnext50_32x4d(attention_module=partial(simam_module, e_lambda=0.1))``: the stem,
    stages and head of the other bottleneck references, with this grouped block."""
    def block(inplanes: int, planes: int, stride: int, downsample) -> Bottleneck:
        return Bottleneck(inplanes, planes, stride, downsample, groups=32, base_width=4, e_lambda=e_lambda)
    return BottleneckResNet(block, LAYERS[50])
