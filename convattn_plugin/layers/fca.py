"""Frequency Channel Attention (FcaNet).

Qin, Zhang, Wu, Li, "FcaNet: Frequency Channel Attention Networks", ICCV 2021,
arXiv:2012.11879. SE's global average pooling is the lowest frequency of a 2-D DCT; FcaNet
splits the channels into ``n`` parts (16) and pools part ``i`` with the DCT basis of frequency
``(u_i, v_i)``, chosen by the paper's per-frequency ImageNet ranking (``'top'``; also ``'low'``
and ``'bot'``); the pooled vector goes through SE's bottleneck (r = 16, no biases) and a sigmoid.

Input sizes, as the authors' code (cfzd/FcaNet ``MultiSpectralAttentionLayer``): the DCT filters
have a fixed size ``dct_size`` (the authors fix it per stage of an ImageNet ResNet at 224 px:
56, 28, 14, 7) and the frequency indices, given in a 7x7 space, are scaled by ``dct_size // 7``.
An input of another H x W is first average-pooled adaptively to ``dct_size`` x ``dct_size``
(the authors do that for detection and segmentation inputs), so any H x W works; at the
DCT size the pooling is the identity and is still run, so that ``torch.export`` records no
branch on the input's size. ``dct_size`` defaults to 7 (the authors' frequency space and
their last stage); builders pass the per-stage sizes when they follow the authors' ImageNet
models. The filters are the buffer ``dct_layer.weight``, as in the authors' state dicts (their MLP
``fc.0`` / ``fc.2``, ``nn.Linear``, is ``fc1`` / ``fc2`` here, 1x1 convolutions as SE's); its
shape (C, dct_size, dct_size) makes a checkpoint of another DCT size fail to load instead of
loading silently.

Where ``C`` is not a multiple of 16, ``num_freq=None`` uses the largest of 8, 4, 2, 1 that
divides it (the authors' code asserts); an explicit ``num_freq`` must divide ``C``.
"""

import math
from typing import List, Optional, Tuple, Type

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_choice, check_int
from .helpers import GatingModule, apply_gate, reduced_channels
from .registry import register_attention

# FX records these functions as calls instead of tracing into their shape/grad-mode branches.
torch.fx.wrap('apply_gate')

__all__ = ['FrequencyChannelAttention', 'dct_filters', 'frequency_indices']

# The paper's frequency rankings in a 7x7 DCT space (x, y), from cfzd/FcaNet ``get_freq_indices``:
# 'top' by single-frequency ImageNet accuracy, 'low' in zig-zag order, 'bot' the worst first.
_FREQ_X = {
    'top': [0, 0, 6, 0, 0, 1, 1, 4, 5, 1, 3, 0, 0, 0, 3, 2, 4, 6, 3, 5, 5, 2, 6, 5, 5, 3, 3, 4, 2, 2, 6, 1],
    'low': [0, 0, 1, 1, 0, 2, 2, 1, 2, 0, 3, 4, 0, 1, 3, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4],
    'bot': [6, 1, 3, 3, 2, 4, 1, 2, 4, 4, 5, 1, 4, 6, 2, 5, 6, 1, 6, 2, 2, 4, 3, 3, 5, 5, 6, 2, 5, 5, 3, 6],
}
_FREQ_Y = {
    'top': [0, 1, 0, 5, 2, 0, 2, 0, 0, 6, 0, 4, 6, 3, 5, 2, 6, 3, 3, 3, 5, 1, 1, 2, 4, 2, 1, 1, 3, 0, 5, 3],
    'low': [0, 1, 0, 1, 2, 0, 1, 2, 2, 3, 0, 0, 4, 3, 1, 5, 4, 3, 2, 1, 0, 6, 5, 4, 3, 2, 1, 0, 6, 5, 4, 3],
    'bot': [6, 4, 4, 6, 6, 3, 1, 4, 4, 5, 6, 5, 2, 2, 5, 1, 4, 3, 5, 0, 3, 1, 1, 2, 4, 2, 1, 1, 5, 3, 3, 3],
}
FREQ_SELECTIONS = list(_FREQ_X)
MAX_NUM_FREQ = 32


def frequency_indices(selection: str, num_freq: int, dct_size: int) -> List[Tuple[int, int]]:
    """The first ``num_freq`` frequencies of ``selection``, scaled from 7x7 to ``dct_size``."""
    scale = dct_size // 7
    return [(u * scale, v * scale) for u, v in zip(_FREQ_X[selection][:num_freq], _FREQ_Y[selection][:num_freq])]


def _basis(pos: int, freq: int, size: int) -> float:
    """Orthonormal DCT-II basis value at ``pos`` of frequency ``freq`` on ``size`` points."""
    value = math.cos(math.pi * freq * (pos + 0.5) / size) / math.sqrt(size)
    return value if freq == 0 else value * math.sqrt(2)


def dct_filters(channels: int, size: int, freqs: List[Tuple[int, int]]) -> torch.Tensor:
    """``(channels, size, size)`` filters: channel part ``i`` (of ``channels / len(freqs)``) gets frequency ``i``."""
    part = channels // len(freqs)
    filters = torch.zeros(channels, size, size, dtype=torch.float64)
    pos = torch.arange(size)
    for i, (u, v) in enumerate(freqs):
        bx = torch.tensor([_basis(int(p), u, size) for p in pos], dtype=torch.float64)
        by = torch.tensor([_basis(int(p), v, size) for p in pos], dtype=torch.float64)
        filters[i * part:(i + 1) * part] = bx[:, None] * by[None, :]
    return filters


class DctPooling(nn.Module):
    """Each channel's DCT coefficient at its frequency: ``sum_hw(x * weight)``, shape ``(N, C)``."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer('weight', weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.weight).sum((2, 3))


@register_attention('fca', paper='FcaNet: Frequency Channel Attention (Qin et al., ICCV 2021)', arxiv='2012.11879')
class FrequencyChannelAttention(GatingModule):
    """SE with multi-spectral (DCT) pooling: ``x * sigmoid(W2 relu(W1 dct(x)))``.

    Args:
        channels: Input and output channels.
        dct_size: Side of the DCT filters (at least 7); inputs of another size are pooled to it.
        freq_sel: The frequency ranking, ``'top'`` (default, the paper's), ``'low'`` or ``'bot'``.
        num_freq: Number of frequencies (the authors' 16); ``None``: 16, or the largest of
            8, 4, 2, 1 dividing ``channels``. An explicit value must divide ``channels``.
        rd_ratio: Bottleneck width as a fraction of ``channels`` (1/r).
        rd_channels: Bottleneck width, overrides ``rd_ratio``.
        act_layer: Activation in the bottleneck.
        rd_rounding: ``'round'`` (default) or ``'floor'`` (the authors' ``C // r``).
        inplace: Multiply the gate into the input itself in inference, for inference
            only (as :class:`~convattn_plugin.layers.SqueezeExcite`'s). Default ``False``.
    """

    def __init__(
            self,
            channels: int,
            dct_size: int = 7,
            freq_sel: str = 'top',
            num_freq: Optional[int] = None,
            rd_ratio: float = 1 / 16,
            rd_channels: Optional[int] = None,
            act_layer: Type[nn.Module] = nn.ReLU,
            rd_rounding: str = 'round',
            inplace: bool = False,
            device=None,
            dtype=None,
    ) -> None:
        super().__init__(channels, inplace)
        owner = self.class_name
        self.dct_size = check_int(dct_size, 'dct_size', owner, 7, 512)
        check_choice(freq_sel, 'freq_sel', owner, FREQ_SELECTIONS)
        if num_freq is None:
            num_freq = next(n for n in (16, 8, 4, 2, 1) if channels % n == 0)
        check_int(num_freq, 'num_freq', owner, 1, MAX_NUM_FREQ)
        if channels % num_freq:
            raise ValueError(f'{owner}: channels ({channels}) must be divisible by num_freq ({num_freq}); '
                             'pass num_freq=None for the largest of 16, 8, 4, 2, 1 that divides it')
        self.freq_sel, self.num_freq = freq_sel, num_freq
        rd = reduced_channels(channels, rd_ratio, rd_channels, owner=owner, rounding=rd_rounding)
        freqs = frequency_indices(freq_sel, num_freq, dct_size)
        self.dct_layer = DctPooling(dct_filters(channels, dct_size, freqs).to(device=device, dtype=dtype or torch.get_default_dtype()))
        # 1x1 convolutions, as SE's here (the authors' nn.Linear weights, reshaped, load into them).
        self.fc1 = nn.Conv2d(channels, rd, 1, bias=False, device=device, dtype=dtype)
        self.act = act_layer(inplace=True)
        self.fc2 = nn.Conv2d(rd, channels, 1, bias=False, device=device, dtype=dtype)
        self.gate = nn.Sigmoid()

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """The gate, shape ``(N, C, 1, 1)``."""
        n, c = x.shape[:2]
        # Identity at the DCT size (each output is one input value), adaptive pooling otherwise.
        pooled = F.adaptive_avg_pool2d(x, (self.dct_size, self.dct_size))
        s = self.act(F.linear(self.dct_layer(pooled), self.fc1.weight.flatten(1)))
        return self.gate(F.linear(s, self.fc2.weight.flatten(1)).view(n, c, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return apply_gate(x, self.channel_gate(x), self.inplace)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, dct_size={self.dct_size}, freq_sel={self.freq_sel!r}, '
                f'num_freq={self.num_freq}')
