"""SA-ResNet of wofmanaf/SA-Net (``models/sa_resnet.py``), re-written with their parameter names and forward.

Every bottleneck has ``sa = sa_layer(planes * 4)`` (groups 64) on ``bn3``'s output, before the
addition. ``sa_layer`` views the input as ``(b * 64, C / 64, h, w)`` and chunks each group in
two halves: the first is gated by ``sigmoid(cweight * avg_pool(x_0) + cbias)``, the second by
``sigmoid(sweight * gn(x_1) + sbias)`` with ``gn = GroupNorm(C / 128, C / 128)``; parameters of
shape ``(1, C / 128, 1, 1)`` (weights zeros, biases ones). The halves are concatenated, put
back to ``(b, C, h, w)`` and channel-shuffled with 2 groups.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

from .attention_modules import sa_layer  # the module of sa_resnet.py, as in the layer tests
from .bottleneck_resnet import EXPANSION, LAYERS, BottleneckResNet


class SABottleneck(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.sa = sa_layer(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.sa(self.bn3(self.conv3(out)))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def sa_resnet(depth: int) -> BottleneckResNet:
    """SA-Net's ``sa_resnet{depth}``."""
    return BottleneckResNet(SABottleneck, LAYERS[depth])
