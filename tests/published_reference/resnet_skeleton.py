"""The authors' plain-stem ResNet (torchvision's names) with their attention at their place.

``attn='cbam' | 'eca' | 'triplet'``: the module is a block attribute (``cbam``, ``eca``,
``triplet_attention``) applied to the last BN's output, before the addition. ``'simam'``:
``conv2`` becomes ``Sequential(conv2, SimAM)`` (before ``bn2``). ``'bam'``: ``bam1..3`` on the
outputs of ``layer1..3``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn as nn

from .attention_modules import BAM, CBAM, EcaLayer, SimAM, TripletAttention

BLOCK_ATTR = {'cbam': 'cbam', 'eca': 'eca', 'triplet': 'triplet_attention'}
DEPTHS = {18: ('basic', (2, 2, 2, 2)), 34: ('basic', (3, 4, 6, 3)), 50: ('bottleneck', (3, 4, 6, 3)),
          101: ('bottleneck', (3, 4, 23, 3)), 152: ('bottleneck', (3, 8, 36, 3))}


def _make_attn(attn: Optional[str], channels: int, option) -> Optional[nn.Module]:
    if attn == 'cbam':
        return CBAM(channels, 16)
    if attn == 'eca':
        return EcaLayer(channels, option)
    if attn == 'triplet':
        return TripletAttention(channels, option)
    if attn == 'simam':
        return SimAM(channels, option)
    return None


class Block(nn.Module):
    def __init__(self, kind: str, inplanes: int, planes: int, stride: int, attn: Optional[str], option) -> None:
        super().__init__()
        self.expansion = 1 if kind == 'basic' else 4
        out = planes * self.expansion
        self.basic = kind == 'basic'
        if self.basic:
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
        self.bn1 = nn.BatchNorm2d(planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))
        self.attn_attr = BLOCK_ATTR.get(attn)
        if attn == 'simam':
            self.conv2 = nn.Sequential(self.conv2, _make_attn(attn, planes, option))
        elif self.attn_attr:
            setattr(self, self.attn_attr, _make_attn(attn, out, option))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if not self.basic:
            out = self.bn3(self.conv3(self.relu(out)))
        residual = x if self.downsample is None else self.downsample(x)
        if self.attn_attr:
            out = getattr(self, self.attn_attr)(out)
        return self.relu(out + residual)


class ResNet(nn.Module):
    def __init__(self, kind: str, layers: Sequence[int], attn: Optional[str] = None,
                 options: Sequence = (None,) * 4, num_classes: int = 1000) -> None:
        super().__init__()
        expansion = 1 if kind == 'basic' else 4
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = []
            for b in range(n):
                blocks.append(Block(kind, inplanes, planes, (1 if i == 0 else 2) if b == 0 else 1, attn, options[i]))
                inplanes = planes * expansion
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
        self.bams = attn == 'bam'
        if self.bams:
            self.bam1, self.bam2, self.bam3 = BAM(64 * expansion), BAM(128 * expansion), BAM(256 * expansion)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * expansion, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f'layer{i}')(x)
            if self.bams and i < 4:
                x = getattr(self, f'bam{i}')(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def authors_resnet(depth: int, attn: Optional[str], options: Sequence = (None,) * 4) -> ResNet:
    """The authors' ResNet-``depth``; ``options``: per-stage ECA k / Triplet k / SimAM lambda."""
    kind, layers = DEPTHS[depth]
    return ResNet(kind, layers, attn, options)
