"""The FcaNet authors' ResNets (cfzd/FcaNet ``model/fcanet.py``) and their file as published.

``FcaBasicBlock`` / ``FcaBottleneck`` are torchvision's blocks with ``att`` =
``MultiSpectralAttentionLayer(C, s, s, reduction=16, freq_sel_method='top16')`` on the last
BN's output, before the addition; ``s`` is looked up by the block's ``planes``
(``c2wh = {64: 56, 128: 28, 256: 14, 512: 7}``). The skeleton's block applies a block attribute
exactly there, so the FcaNet model is the plain skeleton with ``att`` set in every block.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .attention_modules import MultiSpectralAttentionLayer
from .resnet_skeleton import DEPTHS, ResNet

C2WH = {64: 56, 128: 28, 256: 14, 512: 7}


def fcanet(depth: int, dct_sizes: dict[int, int] = C2WH) -> ResNet:
    """The authors' ``fcanet{depth}``: their parameter names (``layer1.0.att.fc.0.weight``, ...)."""
    kind, layers = DEPTHS[depth]
    model = ResNet(kind, layers)
    for stage, planes in enumerate((64, 128, 256, 512)):
        for block in getattr(model, f'layer{stage + 1}'):
            channels = planes * block.expansion
            block.att = MultiSpectralAttentionLayer(channels, dct_sizes[planes], dct_sizes[planes], reduction=16)
            block.attn_attr = 'att'
    return model


def save_like_fcanet(model: torch.nn.Module, path: Path) -> Path:
    """A plain state dict, no ``module.``: what their ``utils/clip_models.py`` writes and ``hubconf.py`` loads."""
    torch.save(model.state_dict(), path)
    return path
