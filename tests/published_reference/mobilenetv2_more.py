"""Three more authors' MobileNetV2s with attention, re-written with their parameter names and forward.

* Triplet (landskape-ai/triplet-attention ``MODELS/mobilenet.py``, ``TripletAttention_MobileNetV2``):
  torchvision's layout (``features.{i}.conv.{j}``, ``ConvBNReLU`` = conv, BN, ReLU6) with
  ``TripletAttention(oup)`` appended to every block's ``conv`` after the pointwise-linear BN
  (``conv.3`` of the first block, ``conv.4`` of the others); head ``features.18``; classifier
  Dropout(0.25), Linear on ``x.mean(-1).mean(-1)``. Their code hard-codes the gates' kernel (7);
  the README publishes k = 3 and k = 7 files, so the kernel is an argument here.
* SimAM (ZjjConan/SimAM ``networks/imagenet/mobilenetv2.py``): torchvision's layout; the depthwise
  ``ConvBNReLU`` of every block is conv, ``simam_module``, BN, ReLU6 (``conv.0`` of the first block,
  ``conv.1`` of the others), nothing appended; classifier ``Sequential(Linear)`` (``classifier.0``),
  adaptive average pooling; lambda 0.1 (``--attention_param 0.1``).
* EMA (YOLOonMe/EMA-attention-module, their timm fork ``timm/models/efficientnet_blocks.py``): timm's
  ``mobilenetv2_100`` whose ``InvertedResidual`` gets ``self.ema = ema_layer(mid_chs)`` when
  ``mid_chs > 144`` (else Identity), applied after ``se``: conv_pw, bn1, conv_dw, bn2, se, ema, conv_pwl,
  bn3, skip. ``DepthwiseSeparableConv`` adds one only above 320 channels (never in MobileNetV2).
"""
from __future__ import annotations

import types

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models._efficientnet_blocks import InvertedResidual as TimmInvertedResidual

from .attention_modules import EmaModule, SimAM, TripletAttention
from .mobilenetv2_reference import SETTINGS


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes: int, out_planes: int, kernel_size: int = 3, stride: int = 1, groups: int = 1,
                 attention: nn.Module | None = None) -> None:
        conv = nn.Conv2d(in_planes, out_planes, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                         bias=False)
        middle = [attention] if attention is not None else []
        super().__init__(conv, *middle, nn.BatchNorm2d(out_planes), nn.ReLU6(inplace=True))


class TripletInvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int, kernel_size: int) -> None:
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [] if expand_ratio == 1 else [ConvBNReLU(inp, hidden_dim, kernel_size=1)]
        layers += [ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
                   nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup),
                   TripletAttention(oup, kernel_size)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class TripletAttention_MobileNetV2(nn.Module):  # noqa: N801 (the authors' class name)
    def __init__(self, num_classes: int = 1000, kernel_size: int = 7) -> None:
        super().__init__()
        features, inp = [ConvBNReLU(3, 32, stride=2)], 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                features.append(TripletInvertedResidual(inp, c, s if i == 0 else 1, t, kernel_size))
                inp = c
        features.append(ConvBNReLU(inp, 1280, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.25), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(-1).mean(-1))


class SimAMInvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int, e_lambda: float) -> None:
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [] if expand_ratio == 1 else [ConvBNReLU(inp, hidden_dim, kernel_size=1)]
        simam = SimAM(hidden_dim, e_lambda)
        layers += [ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim, attention=simam),
                   nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class SimAMMobileNetV2(nn.Module):
    """``mobilenet_v2(attention_module=partial(simam_module, e_lambda=0.1))``."""

    def __init__(self, num_classes: int = 1000, e_lambda: float = 0.1) -> None:
        super().__init__()
        features, inp = [ConvBNReLU(3, 32, stride=2)], 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                features.append(SimAMInvertedResidual(inp, c, s if i == 0 else 1, t, e_lambda))
                inp = c
        features.append(ConvBNReLU(inp, 1280, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1)).reshape(x.shape[0], -1)
        return self.classifier(x)


def _ema_block_forward(self: TimmInvertedResidual, x: torch.Tensor) -> torch.Tensor:
    # Their fork's InvertedResidual.forward: the ema module right after se.
    shortcut = x
    x = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
    x = self.bn3(self.conv_pwl(self.ema(self.se(x))))
    return self.drop_path(x) + shortcut if self.has_skip else x


def ema_mobilenetv2_100(num_classes: int = 1000) -> nn.Module:
    """timm's ``mobilenetv2_100`` with their ``ema`` (``EmaModule``, factor 32) in blocks wider than 144."""
    model = timm.create_model('mobilenetv2_100', num_classes=num_classes)
    for block in model.blocks.modules():
        if isinstance(block, TimmInvertedResidual):
            mid_chs = block.conv_dw.out_channels
            block.ema = EmaModule(mid_chs) if mid_chs > 144 else nn.Identity()
            block.forward = types.MethodType(_ema_block_forward, block)
    return model
