"""``ActAttn``: a parameter-free module (an activation, a pool) followed by attention.

Replacing the activation that ends a stage with ``ActAttn(act, attn)`` adds
``<name>.attn.*`` keys and leaves every other key of the model, and the indices of an
``nn.Sequential``, unchanged: the plain model's weights still load.
"""
from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ['ActAttn']


class ActAttn(nn.Module):
    """``attn(act(x))``.

    Args:
        act: The module that was at this position.
        attn: The attention applied to its output.
    """

    def __init__(self, act: nn.Module, attn: nn.Module) -> None:
        super().__init__()
        self.act = act
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(self.act(x))
