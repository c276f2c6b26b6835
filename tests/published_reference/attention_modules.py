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

import math

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


# ---- issue 20 kinds ---------------------------------------------------------------------
# * scSE (ai-med/squeeze_and_excitation ``ChannelSpatialSELayer``): ``cSE`` = mean over positions,
#   ``fc1`` (Linear, bias), ReLU, ``fc2`` (Linear, bias), sigmoid; ``sSE`` = ``conv`` (1x1, C -> 1,
#   bias), sigmoid; output ``max(cSE(x), sSE(x))``. r = 2, width ``C // r``.
# * SGE (implus/PytorchInsight ``SpatialGroupEnhance``): ``weight`` (zeros) and ``bias`` (ones) of
#   shape (1, G, 1, 1); per group of consecutive channels, similarity to the mean vector, centred,
#   divided by its unbiased std + 1e-5, affine, sigmoid gate.
# * Shuffle Attention (wofmanaf/SA-Net ``sa_layer``): ``cweight``/``cbias``/``sweight``/``sbias`` of
#   shape (1, C / 2G, 1, 1), ``gn`` = GroupNorm(C / 2G, C / 2G); channel-shuffle with 2 groups.


class ChannelSELayer(nn.Module):
    def __init__(self, num_channels: int, reduction_ratio: int = 2) -> None:
        super().__init__()
        reduced = num_channels // reduction_ratio
        self.fc1 = nn.Linear(num_channels, reduced, bias=True)
        self.fc2 = nn.Linear(reduced, num_channels, bias=True)
        self.relu = nn.ReLU()
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        squeezed = x.reshape(n, c, -1).mean(dim=2)
        scale = self.sigmoid(self.fc2(self.relu(self.fc1(squeezed))))
        return x * scale.reshape(n, c, 1, 1)


class SpatialSELayer(nn.Module):
    def __init__(self, num_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(num_channels, 1, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(self.conv(x))


class ChannelSpatialSELayer(nn.Module):
    def __init__(self, num_channels: int, reduction_ratio: int = 2) -> None:
        super().__init__()
        self.cSE = ChannelSELayer(num_channels, reduction_ratio)
        self.sSE = SpatialSELayer(num_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.max(self.cSE(x), self.sSE(x))


class SpatialGroupEnhance(nn.Module):
    def __init__(self, groups: int = 64) -> None:
        super().__init__()
        self.groups = groups
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.weight = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.bias = nn.Parameter(torch.ones(1, groups, 1, 1))
        self.sig = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        grouped = x.reshape(b * self.groups, c // self.groups, h, w)
        sim = (grouped * self.avg_pool(grouped)).sum(dim=1, keepdim=True).reshape(b * self.groups, h * w)
        sim = sim - sim.mean(dim=1, keepdim=True)
        sim = sim / (sim.std(dim=1, keepdim=True) + 1e-5)
        sim = sim.reshape(b, self.groups, h, w) * self.weight + self.bias
        return (grouped * self.sig(sim.reshape(b * self.groups, 1, h, w))).reshape(b, c, h, w)


class sa_layer(nn.Module):  # noqa: N801 (the authors' class name)
    def __init__(self, channel: int, groups: int = 64) -> None:
        super().__init__()
        self.groups = groups
        half = channel // (2 * groups)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.cweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sigmoid = nn.Sigmoid()
        self.gn = nn.GroupNorm(half, half)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        grouped = x.reshape(b * self.groups, c // self.groups, h, w)
        x_0, x_1 = grouped.chunk(2, dim=1)
        xn = x_0 * self.sigmoid(self.cweight * self.avg_pool(x_0) + self.cbias)
        xs = x_1 * self.sigmoid(self.sweight * self.gn(x_1) + self.sbias)
        out = torch.cat([xn, xs], dim=1).reshape(b, c, h, w)
        # channel shuffle, 2 groups
        return out.reshape(b, 2, c // 2, h, w).permute(0, 2, 1, 3, 4).reshape(b, c, h, w)


# * EMA (YOLOonMe/EMA-attention-module ``EmaModule``): ``groups`` = factor (32); ``gn`` =
#   GroupNorm(C/G, C/G), ``conv1x1`` and ``conv3x3`` (C/G -> C/G, biases); softmax over each
#   group's channels of the other branch's pooled map; sigmoid of the summed products gates x.
class EmaModule(nn.Module):
    def __init__(self, channels: int, factor: int = 32) -> None:
        super().__init__()
        self.groups = factor
        c = channels // factor
        self.softmax = nn.Softmax(-1)
        self.agp = nn.AdaptiveAvgPool2d((1, 1))
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))
        self.gn = nn.GroupNorm(c, c)
        self.conv1x1 = nn.Conv2d(c, c, kernel_size=1, stride=1, padding=0)
        self.conv3x3 = nn.Conv2d(c, c, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = self.groups
        group_x = x.reshape(b * g, -1, h, w)
        x_h = self.pool_h(group_x)
        x_w = self.pool_w(group_x).permute(0, 1, 3, 2)
        hw = self.conv1x1(torch.cat([x_h, x_w], dim=2))
        x_h, x_w = torch.split(hw, [h, w], dim=2)
        x1 = self.gn(group_x * x_h.sigmoid() * x_w.permute(0, 1, 3, 2).sigmoid())
        x2 = self.conv3x3(group_x)
        x11 = self.softmax(self.agp(x1).reshape(b * g, -1, 1).permute(0, 2, 1))
        x12 = x2.reshape(b * g, c // g, -1)
        x21 = self.softmax(self.agp(x2).reshape(b * g, -1, 1).permute(0, 2, 1))
        x22 = x1.reshape(b * g, c // g, -1)
        weights = (torch.matmul(x11, x12) + torch.matmul(x21, x22)).reshape(b * g, 1, h, w)
        return (group_x * weights.sigmoid()).reshape(b, c, h, w)


# * FcaNet (cfzd/FcaNet ``model/layer.py``): ``dct_layer.weight`` buffer (C, dct_h, dct_w), channel
#   part i gets the DCT basis of the i-th 'top16' frequency (7x7 indices times dct_h // 7); inputs of
#   another size are adaptively average-pooled to (dct_h, dct_w); ``fc`` = Linear, ReLU, Linear
#   (no biases, C // 16), Sigmoid.
_FCA_TOP_X = [0, 0, 6, 0, 0, 1, 1, 4, 5, 1, 3, 0, 0, 0, 3, 2]
_FCA_TOP_Y = [0, 1, 0, 5, 2, 0, 2, 0, 0, 6, 0, 4, 6, 3, 5, 2]


class MultiSpectralDCTLayer(nn.Module):
    def __init__(self, height: int, width: int, mapper_x, mapper_y, channel: int) -> None:
        super().__init__()
        self.register_buffer('weight', self.get_dct_filter(height, width, mapper_x, mapper_y, channel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(x * self.weight, dim=[2, 3])

    @staticmethod
    def build_filter(pos: int, freq: int, size: int) -> float:
        result = math.cos(math.pi * freq * (pos + 0.5) / size) / math.sqrt(size)
        return result if freq == 0 else result * math.sqrt(2)

    def get_dct_filter(self, tile_x: int, tile_y: int, mapper_x, mapper_y, channel: int) -> torch.Tensor:
        dct_filter = torch.zeros(channel, tile_x, tile_y)
        c_part = channel // len(mapper_x)
        for i, (u_x, v_y) in enumerate(zip(mapper_x, mapper_y)):
            for t_x in range(tile_x):
                for t_y in range(tile_y):
                    dct_filter[i * c_part:(i + 1) * c_part, t_x, t_y] = (
                        self.build_filter(t_x, u_x, tile_x) * self.build_filter(t_y, v_y, tile_y))
        return dct_filter


class MultiSpectralAttentionLayer(nn.Module):
    def __init__(self, channel: int, dct_h: int, dct_w: int, reduction: int = 16) -> None:
        super().__init__()
        self.dct_h, self.dct_w = dct_h, dct_w
        mapper_x = [u * (dct_h // 7) for u in _FCA_TOP_X]
        mapper_y = [v * (dct_w // 7) for v in _FCA_TOP_Y]
        self.dct_layer = MultiSpectralDCTLayer(dct_h, dct_w, mapper_x, mapper_y, channel)
        self.fc = nn.Sequential(nn.Linear(channel, channel // reduction, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(channel // reduction, channel, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        pooled = x
        if h != self.dct_h or w != self.dct_w:
            pooled = F.adaptive_avg_pool2d(x, (self.dct_h, self.dct_w))
        return x * self.fc(self.dct_layer(pooled)).view(n, c, 1, 1)


# * PSA (DeLightCMU/PSA ``semantic-segmentation/network/PSA.py``), with inplanes = planes:
#   ``PSA_p`` (parallel; conv_up one 1x1 conv C/2 -> C; spatial: softmax over positions of
#   pooled-query x value, then sigmoid) and ``PSA_s`` (sequential; conv_up = 1x1 conv C/2 -> C/8,
#   LayerNorm, ReLU, 1x1 conv C/8 -> C, with biases; spatial: softmax of the value over positions).
class _PSABase(nn.Module):
    def __init__(self, inplanes: int, planes: int) -> None:
        super().__init__()
        self.inplanes, self.planes, self.inter_planes = inplanes, planes, planes // 2
        self.conv_q_right = nn.Conv2d(inplanes, 1, kernel_size=1, bias=False)
        self.conv_v_right = nn.Conv2d(inplanes, self.inter_planes, kernel_size=1, bias=False)
        self.softmax_right = nn.Softmax(dim=2)
        self.sigmoid = nn.Sigmoid()
        self.conv_q_left = nn.Conv2d(inplanes, self.inter_planes, kernel_size=1, bias=False)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_v_left = nn.Conv2d(inplanes, self.inter_planes, kernel_size=1, bias=False)
        self.softmax_left = nn.Softmax(dim=2)

    def spatial_pool(self, x: torch.Tensor) -> torch.Tensor:
        input_x = self.conv_v_right(x)
        b, c, h, w = input_x.shape
        input_x = input_x.view(b, c, h * w)
        mask = self.softmax_right(self.conv_q_right(x).view(b, 1, h * w))
        context = torch.matmul(input_x, mask.transpose(1, 2)).unsqueeze(-1)
        return x * self.sigmoid(self.conv_up(context))

    def pooled_query_and_value(self, x: torch.Tensor):
        g_x = self.conv_q_left(x)
        b, c, h, w = g_x.shape
        avg_x = self.avg_pool(g_x).view(b, c, 1).permute(0, 2, 1)
        theta_x = self.conv_v_left(x).view(b, self.inter_planes, h * w)
        return avg_x, theta_x, (b, h, w)


class PSA_p(_PSABase):  # noqa: N801
    def __init__(self, inplanes: int, planes: int) -> None:
        super().__init__(inplanes, planes)
        self.conv_up = nn.Conv2d(self.inter_planes, planes, kernel_size=1, bias=False)

    def channel_pool(self, x: torch.Tensor) -> torch.Tensor:
        avg_x, theta_x, (b, h, w) = self.pooled_query_and_value(x)
        context = self.softmax_left(torch.matmul(avg_x, theta_x)).view(b, 1, h, w)
        return x * self.sigmoid(context)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel_pool(x) + self.spatial_pool(x)


class PSA_s(_PSABase):  # noqa: N801
    def __init__(self, inplanes: int, planes: int) -> None:
        super().__init__(inplanes, planes)
        ratio = 4
        self.conv_up = nn.Sequential(
            nn.Conv2d(self.inter_planes, self.inter_planes // ratio, kernel_size=1),
            nn.LayerNorm([self.inter_planes // ratio, 1, 1]), nn.ReLU(inplace=True),
            nn.Conv2d(self.inter_planes // ratio, planes, kernel_size=1))

    def channel_pool(self, x: torch.Tensor) -> torch.Tensor:
        avg_x, theta_x, (b, h, w) = self.pooled_query_and_value(x)
        context = torch.matmul(avg_x, self.softmax_left(theta_x)).view(b, 1, h, w)
        return x * self.sigmoid(context)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel_pool(self.spatial_pool(x))


# * SK unit (implus/SKNet ``models/sknet50.prototxt``, the authors' Caffe SKNet-50), one unit
#   C -> C: ``3x3g32`` and ``3x3g32d2`` (3x3 convs, 32 groups, dilation 1 and 2, no bias) each
#   with BN and ReLU; their sum is globally pooled; ``B_fc1`` (1x1, no bias, max(C/16, 32) wide)
#   with BN and ReLU; ``B_fc2`` (1x1, 2C, no bias) reshaped to (N, 2, C), softmax over the two
#   branches; ``scale`` + ``Axpy``: w0 * branch0 + w1 * branch1. Caffe layer names with '/' -> '_'.
class SKUnitCaffe(nn.Module):
    def __init__(self, channels: int, groups: int = 32, reduction: int = 16, min_width: int = 32) -> None:
        super().__init__()
        d = max(channels // reduction, min_width)
        self.conv_3x3g32 = nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False)
        self.conv_3x3g32_bn = nn.BatchNorm2d(channels)
        self.conv_3x3g32d2 = nn.Conv2d(channels, channels, 3, padding=2, dilation=2, groups=groups, bias=False)
        self.conv_3x3g32d2_bn = nn.BatchNorm2d(channels)
        self.B_fc1 = nn.Conv2d(channels, d, 1, bias=False)
        self.B_fc1_bn = nn.BatchNorm2d(d)
        self.B_fc2 = nn.Conv2d(d, 2 * channels, 1, bias=False)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = F.relu(self.conv_3x3g32_bn(self.conv_3x3g32(x)))
        b1 = F.relu(self.conv_3x3g32d2_bn(self.conv_3x3g32d2(x)))
        pooled = F.adaptive_avg_pool2d(b0 + b1, 1)
        logits = self.B_fc2(F.relu(self.B_fc1_bn(self.B_fc1(pooled))))
        w = torch.softmax(logits.reshape(x.shape[0], 2, self.channels, 1), dim=1)
        w0 = w[:, 0].reshape(x.shape[0], self.channels, 1, 1)
        w1 = w[:, 1].reshape(x.shape[0], self.channels, 1, 1)
        return b0 * w0 + w1 * b1


# * GAM (Liu et al., arXiv:2112.05561): no code from the authors; written from the paper's Eq. 1-2
#   and Fig. 2-3, in the layout of the unofficial code that circulates (``channel_attention`` =
#   Linear, ReLU, Linear applied after permuting to (N, H, W, C); ``spatial_attention`` = 7x7 conv,
#   BN, ReLU, 7x7 conv, BN), with the paper's sigmoid on the channel map (the unofficial code
#   omits it) and, for groups > 1, the paper's group convolution with a channel shuffle.
class GAMFromPaper(nn.Module):
    def __init__(self, channels: int, rate: int = 4, groups: int = 1) -> None:
        super().__init__()
        rd = channels // rate
        self.groups = groups
        self.channel_attention = nn.Sequential(nn.Linear(channels, rd), nn.ReLU(inplace=True), nn.Linear(rd, channels))
        self.spatial_attention = nn.Sequential(
            nn.Conv2d(channels, rd, 7, padding=3, groups=groups, bias=False), nn.BatchNorm2d(rd), nn.ReLU(inplace=True),
            nn.Conv2d(rd, channels, 7, padding=3, groups=groups, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        permuted = x.permute(0, 2, 3, 1).reshape(b, -1, c)                        # 3-D permutation
        channel_map = self.channel_attention(permuted).reshape(b, h, w, c).permute(0, 3, 1, 2)
        x = x * torch.sigmoid(channel_map)
        s = self.spatial_attention[2](self.spatial_attention[1](self.spatial_attention[0](x)))
        if self.groups > 1:
            rd = s.shape[1]
            s = s.reshape(b, self.groups, rd // self.groups, h, w).permute(0, 2, 1, 3, 4).reshape(b, rd, h, w)
        s = self.spatial_attention[4](self.spatial_attention[3](s))
        return x * torch.sigmoid(s)
