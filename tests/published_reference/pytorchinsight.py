"""SGE-ResNet and SK-ResNet* of implus/PytorchInsight, re-written with their parameter names and forward.

* ``resnet_sge.py``: every bottleneck has ``sge = SpatialGroupEnhance(64)`` (parameters
  ``weight`` zeros and ``bias`` ones of shape ``(1, 64, 1, 1)``) on ``bn3``'s output, before
  the addition. Per group of channels: ``x * avg_pool(x)`` summed over the group's channels,
  centred over the positions, divided by the unbiased std + 1e-5, ``* weight + bias``,
  sigmoid, times ``x``.
* ``resnet_sk.py``: the bottleneck's 3x3 is two branches at the block's stride, ``conv2`` +
  ``bn2`` (plain) and ``conv2g`` + ``bn2g`` (32 groups), each with ReLU; the pooled sum of the
  two goes through ``conv_fc1`` (``planes // 16``, no bias) + ``bn_fc1`` + ReLU and ``conv_fc2``
  (``2 * planes``, no bias); a softmax over the two halves weights the branches per channel.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention_modules import SpatialGroupEnhance  # the module of resnet_sge.py, as in the layer tests
from .bottleneck_resnet import EXPANSION, LAYERS, BottleneckResNet


class _Bottleneck(nn.Module):
    """conv1 / bn1 and conv3 / bn3 of torchvision's bottleneck (the 3x3 part is the subclass's)."""

    def __init__(self, inplanes: int, planes: int, downsample: Optional[nn.Module]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * EXPANSION, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * EXPANSION)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def _end(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class SGEBottleneck(_Bottleneck):
    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None) -> None:
        super().__init__(inplanes, planes, downsample)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.sge = SpatialGroupEnhance(64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self._end(x, self.sge(self.bn3(self.conv3(out))))


class SKBottleneck(_Bottleneck):
    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None) -> None:
        super().__init__(inplanes, planes, downsample)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2g = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False, groups=32)
        self.bn2g = nn.BatchNorm2d(planes)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_fc1 = nn.Conv2d(planes, planes // 16, 1, bias=False)
        self.bn_fc1 = nn.BatchNorm2d(planes // 16)
        self.conv_fc2 = nn.Conv2d(planes // 16, 2 * planes, 1, bias=False)
        self.D = planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        d1 = self.relu(self.bn2(self.conv2(out)))
        d2 = self.relu(self.bn2g(self.conv2g(out)))
        d = self.avg_pool(d1) + self.avg_pool(d2)
        d = self.conv_fc2(F.relu(self.bn_fc1(self.conv_fc1(d))))
        d = F.softmax(d.reshape(-1, 2, self.D, 1, 1), 1)
        out = d1 * d[:, 0] + d2 * d[:, 1]
        return self._end(x, self.bn3(self.conv3(out)))


def sge_resnet(depth: int) -> BottleneckResNet:
    """PytorchInsight's ``sge_resnet{depth}``."""
    return BottleneckResNet(SGEBottleneck, LAYERS[depth])


def sk_resnet(depth: int) -> BottleneckResNet:
    """PytorchInsight's ``sk_resnet{depth}`` (the README's SK-ResNet*)."""
    return BottleneckResNet(SKBottleneck, LAYERS[depth])
