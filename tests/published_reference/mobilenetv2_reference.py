"""The CA authors' MobileNetV2 (houqb/CoordAttention ``mbv2_ca.py``): their names, their forward.

``features.0`` = conv 3x3 s2 + BN + ReLU6; ``features.1..17`` = ``InvertedResidual`` with
``conv`` a Sequential (expanded blocks: pw, BN, ReLU6, dw, BN, ReLU6, ``CoordAtt``, pw-linear,
BN; the first block: dw, BN, ReLU6, pw-linear, BN); ``conv`` = 1x1 to 1280 + BN + ReLU6;
``classifier`` = Dropout(0.1), Linear. ``CoordAtt``: ``conv1`` (with bias), ``bn1``, h-swish,
``conv2`` (height) and ``conv3`` (width) gates, width ``max(8, C // 32)``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1))


class CoordAtt(nn.Module):
    def __init__(self, inp: int, oup: int, groups: int = 32) -> None:
        super().__init__()
        mip = max(8, inp // groups)
        self.conv1 = nn.Conv2d(inp, mip, 1)
        self.bn1 = nn.BatchNorm2d(mip)
        self.conv2 = nn.Conv2d(mip, oup, 1)
        self.conv3 = nn.Conv2d(mip, oup, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x_h = F.adaptive_avg_pool2d(x, (h, 1))
        x_w = F.adaptive_avg_pool2d(x, (1, w)).permute(0, 1, 3, 2)
        y = self.bn1(self.conv1(torch.cat([x_h, x_w], dim=2)))
        y = y * F.relu6(y + 3) / 6  # h_swish
        y_h, y_w = torch.split(y, [h, w], dim=2)
        a_h = self.conv2(y_h).sigmoid()
        a_w = self.conv3(y_w.permute(0, 1, 3, 2)).sigmoid()
        return x * a_w * a_h


def _conv_bn(inp: int, oup: int, k: int, stride: int, groups: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(inp, oup, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(oup),
            nn.ReLU6(inplace=True)]


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = round(inp * t)
        self.identity = stride == 1 and inp == oup
        if t == 1:
            layers = [*_conv_bn(hidden, hidden, 3, stride, hidden)]
        else:
            layers = [*_conv_bn(inp, hidden, 1, 1), *_conv_bn(hidden, hidden, 3, stride, hidden),
                      CoordAtt(hidden, hidden)]
        self.conv = nn.Sequential(*layers, nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.identity else self.conv(x)


class MBV2_CA(nn.Module):  # noqa: N801 (the authors' class name)
    def __init__(self, num_classes: int = 1000, classifier_in_sequential: bool = True) -> None:
        super().__init__()
        layers, inp = [nn.Sequential(*_conv_bn(3, 32, 3, 2))], 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        self.features = nn.Sequential(*layers)
        self.conv = nn.Sequential(*_conv_bn(inp, 1280, 1, 1))
        linear = nn.Linear(1280, num_classes)
        self.classifier = nn.Sequential(nn.Dropout(0.1), linear) if classifier_in_sequential else linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.conv(self.features(x)), 1)
        return self.classifier(x.flatten(1))


class EcaLayer(nn.Module):
    """BangguWu/ECANet ``eca_layer``: avg pool, Conv1d(1, 1, k, no bias) across channels, sigmoid."""

    def __init__(self, k_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, k_size, padding=(k_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(F.adaptive_avg_pool2d(x, 1).squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
        return x * y.sigmoid()


class EcaInvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, t: int, k: int) -> None:
        super().__init__()
        hidden = int(round(inp * t))
        self.use_res_connect = stride == 1 and inp == oup
        layers = [] if t == 1 else [nn.Sequential(*_conv_bn(inp, hidden, 1, 1))]
        layers += [nn.Sequential(*_conv_bn(hidden, hidden, 3, stride, hidden)),
                   nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup), EcaLayer(k)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class ECA_MobileNetV2(nn.Module):  # noqa: N801 (the authors' class name)
    """``eca_mobilenetv2.py``: k = 1 below 96 channels, else 3; classifier Dropout(0.25), Linear."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        features, inp = [nn.Sequential(*_conv_bn(3, 32, 3, 2))], 32
        for t, c, n, s in SETTINGS:
            for i in range(n):
                features.append(EcaInvertedResidual(inp, c, s if i == 0 else 1, t, 1 if c < 96 else 3))
                inp = c
        features.append(nn.Sequential(*_conv_bn(inp, 1280, 1, 1)))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.25), nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(-1).mean(-1))
