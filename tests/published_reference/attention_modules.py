"""The authors' attention modules, re-written with their parameter names and forward semantics.

* CBAM (Jongchan/attention-module ``MODELS/cbam.py``): ``ChannelGate.mlp`` = Flatten, Linear,
  ReLU, Linear (biases) on avg- and max-pooled maps, summed, sigmoid; ``SpatialGate.spatial`` =
  BasicConv(2, 1, 7): conv (no bias) + BN(momentum 0.01) on ``[max_c; mean_c]``, sigmoid.
* BAM (same repository, ``MODELS/bam.py``): ``channel_att.gate_c`` (named Linear / BatchNorm1d /
  ReLU layers) and ``spatial_att.gate_s`` (named convs with BN and ReLU, dilation 4); output
  ``(1 + sigmoid(Mc * Ms)) * x``.
* ECA (BangguWu/ECANet ``models/eca_module.py``): avg pool, ``conv`` = Conv1d(1, 1, k, no bias)
  across channels, sigmoid.
* SimAM (ZjjConan/SimAM): ``d = (x - mean)^2``, ``y = d / (4 (sum(d) / (hw - 1) + lambda)) + 0.5``,
  ``x * sigmoid(y)``.
* Triplet (landskape-ai/triplet-attention ``MODELS/triplet_attention.py``): ``ChannelGateH``
  on ``x.permute(0, 2, 1, 3)``, ``ChannelGateW`` on ``x.permute(0, 3, 2, 1)``, ``SpatialGate``
  on ``x``, each a Z-pool ``[max; mean]`` + BasicConv(2, 1, k) + sigmoid gate; mean of the three.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.01, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class MaxMeanPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x.max(1)[0].unsqueeze(1), x.mean(1).unsqueeze(1)), dim=1)


class ZPoolGate(nn.Module):
    """CBAM's / Triplet's ``SpatialGate``: ``x * sigmoid(spatial(compress(x)))``."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.compress = MaxMeanPool()
        self.spatial = BasicConv(2, 1, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.spatial(self.compress(x)))


class CBAMChannelGate(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(channels, channels // reduction), nn.ReLU(),
                                 nn.Linear(channels // reduction, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hw = (x.size(2), x.size(3))
        att = self.mlp(F.avg_pool2d(x, hw, stride=hw)) + self.mlp(F.max_pool2d(x, hw, stride=hw))
        return x * torch.sigmoid(att).unsqueeze(2).unsqueeze(3).expand_as(x)


class CBAM(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.ChannelGate = CBAMChannelGate(channels, reduction)
        self.SpatialGate = ZPoolGate(7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class BAMChannelGate(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        rd = channels // reduction
        self.gate_c = nn.Sequential()
        self.gate_c.add_module('flatten', nn.Flatten())
        self.gate_c.add_module('gate_c_fc_0', nn.Linear(channels, rd))
        self.gate_c.add_module('gate_c_bn_1', nn.BatchNorm1d(rd))
        self.gate_c.add_module('gate_c_relu_1', nn.ReLU())
        self.gate_c.add_module('gate_c_fc_final', nn.Linear(rd, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x, x.size(2), stride=x.size(2))
        return self.gate_c(pooled).unsqueeze(2).unsqueeze(3).expand_as(x)


class BAMSpatialGate(nn.Module):
    def __init__(self, channels: int, reduction: int = 16, dilation_conv_num: int = 2, dilation_val: int = 4) -> None:
        super().__init__()
        rd = channels // reduction
        self.gate_s = nn.Sequential()
        self.gate_s.add_module('gate_s_conv_reduce0', nn.Conv2d(channels, rd, kernel_size=1))
        self.gate_s.add_module('gate_s_bn_reduce0', nn.BatchNorm2d(rd))
        self.gate_s.add_module('gate_s_relu_reduce0', nn.ReLU())
        for i in range(dilation_conv_num):
            self.gate_s.add_module(f'gate_s_conv_di_{i}', nn.Conv2d(rd, rd, 3, padding=dilation_val,
                                                                    dilation=dilation_val))
            self.gate_s.add_module(f'gate_s_bn_di_{i}', nn.BatchNorm2d(rd))
            self.gate_s.add_module(f'gate_s_relu_di_{i}', nn.ReLU())
        self.gate_s.add_module('gate_s_conv_final', nn.Conv2d(rd, 1, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate_s(x).expand_as(x)


class BAM(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channel_att = BAMChannelGate(channels)
        self.spatial_att = BAMSpatialGate(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (1 + torch.sigmoid(self.channel_att(x) * self.spatial_att(x))) * x


class EcaLayer(nn.Module):
    def __init__(self, channels: int, k_size: int = 3) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=k_size, padding=(k_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(self.avg_pool(x).squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
        return x * torch.sigmoid(y).expand_as(x)


class SimAM(nn.Module):
    def __init__(self, channels: int = None, e_lambda: float = 1e-4) -> None:
        super().__init__()
        self.e_lambda = e_lambda

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.size(2) * x.size(3) - 1
        d = (x - x.mean(dim=[2, 3], keepdim=True)).pow(2)
        y = d / (4 * (d.sum(dim=[2, 3], keepdim=True) / n + self.e_lambda)) + 0.5
        return x * torch.sigmoid(y)


class TripletAttention(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.ChannelGateH = ZPoolGate(kernel_size)
        self.ChannelGateW = ZPoolGate(kernel_size)
        self.SpatialGate = ZPoolGate(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out_h = self.ChannelGateH(x.permute(0, 2, 1, 3).contiguous()).permute(0, 2, 1, 3).contiguous()
        out_w = self.ChannelGateW(x.permute(0, 3, 2, 1).contiguous()).permute(0, 3, 2, 1).contiguous()
        return (1 / 3) * (self.SpatialGate(x) + out_h + out_w)
