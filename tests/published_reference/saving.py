"""Random weights, and saving them as the authors saved their training checkpoints."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN statistics and affine parameters (so eval-mode BN is not the identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(1234)
            elif isinstance(m, (nn.Linear, nn.Conv1d)) and m.weight.numel() < 1e6:
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * m.weight.std().clamp_min(0.05))
    return model.eval()


def save_like_authors(model: nn.Module, path: Path, legacy: bool = False, best_key: str = 'best_prec1') -> Path:
    """``torch.save({'epoch', 'arch', 'state_dict' (of nn.DataParallel: 'module.'), best, 'optimizer'})``.

    Args:
        legacy: Write PyTorch's pre-1.6 (non-zip) format, as PyTorch 0.4 did.
        best_key: ``'best_prec1'`` (ImageNet example) or ``'best_acc'`` (SimAM).
    """
    state_dict = {f'module.{k}': v for k, v in model.state_dict().items()}
    first = next(iter(model.parameters()))
    optimizer = {'state': {0: {'momentum_buffer': torch.zeros_like(first)}},
                 'param_groups': [{'lr': 0.001, 'momentum': 0.9, 'dampening': 0, 'weight_decay': 1e-4,
                                   'nesterov': False, 'params': list(range(len(state_dict)))}]}
    checkpoint = {'epoch': 100, 'arch': 'resnet', 'state_dict': state_dict, best_key: torch.tensor(77.5),
                  'optimizer': optimizer}
    torch.save(checkpoint, path, _use_new_zipfile_serialization=not legacy)
    return path
