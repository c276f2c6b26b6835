"""Key conversion helpers shared by the sources: unwrap a training pickle, rename by rules.

The authors saved ``{'state_dict': model.state_dict(), 'optimizer': ..., 'epoch': ...}`` of a
``DataParallel`` model, so every key starts with ``module.``. :func:`unwrap_checkpoint` keeps
the weights; :func:`rename_keys` maps the authors' names to ours with ordered regex rules;
:func:`linear_to_conv` gives ``nn.Linear`` weights the 1x1-convolution shape our layers use.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

import torch

__all__ = ['linear_to_conv', 'rename_keys', 'unwrap_checkpoint']

WRAPPER_KEYS = ('state_dict', 'model')
PREFIX = 'module.'


def unwrap_checkpoint(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The state dict of a training checkpoint: under ``state_dict`` / ``model`` if present, ``module.`` removed.

    Raises:
        ValueError: Not a mapping, or entries that are not tensors (not a state dict).
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    for key in WRAPPER_KEYS:
        if isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
            break
    bad = [k for k, v in checkpoint.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f'the checkpoint holds no state dict: entries {bad[:10]} are not tensors '
                         f'(expected a state dict, or a dict with one under {WRAPPER_KEYS})')
    return {(k[len(PREFIX):] if k.startswith(PREFIX) else k): v for k, v in checkpoint.items()}


def rename_keys(state_dict: Mapping[str, torch.Tensor], rules: Iterable[tuple[str, str]]) -> dict[str, torch.Tensor]:
    """Rename every key by the first rule whose regex matches it entirely; other keys stay.

    Args:
        state_dict: The authors' state dict.
        rules: ``(regex, replacement)`` pairs, replacement in :func:`re.sub` syntax.
    """
    compiled = [(re.compile(p), r) for p, r in rules]
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in compiled:
            if pattern.fullmatch(key):
                key = pattern.sub(repl, key)
                break
        out[key] = value
    return out


def linear_to_conv(state_dict: dict[str, torch.Tensor], pattern: str) -> dict[str, torch.Tensor]:
    """Reshape 2-D ``weight`` tensors of keys matching ``pattern`` to ``(out, in, 1, 1)``, in place."""
    regex = re.compile(pattern)
    for key, value in state_dict.items():
        if regex.fullmatch(key) and key.endswith('.weight') and value.dim() == 2:
            state_dict[key] = value.reshape(*value.shape, 1, 1)
    return state_dict
