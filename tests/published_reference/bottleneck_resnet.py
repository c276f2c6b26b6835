"""torchvision's plain-stem ResNet with a bottleneck class passed in, as PytorchInsight and SA-Net build it.

implus/PytorchInsight (``classification/models/imagenet/resnet_sge.py``, ``resnet_sk.py``) and
wofmanaf/SA-Net (``models/sa_resnet.py``) each copy torchvision's ``ResNet``: 7x7 stem, max
pool, ``_make_layer`` with a 1x1 strided ``downsample`` (conv + BN) on the first block of a
stage, the stride on the block's 3x3 conv, ``AdaptiveAvgPool2d(1)`` and ``fc``. Only the
bottleneck differs; it is given as ``block(inplanes, planes, stride, downsample)``.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn

EXPANSION = 4
LAYERS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
BlockFn = Callable[[int, int, int, Optional[nn.Module]], nn.Module]


class BottleneckResNet(nn.Module):
    def __init__(self, block: BlockFn, layers: Sequence[int], num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            setattr(self, f'layer{i + 1}', self._make_layer(block, planes, n, 1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * EXPANSION, num_classes)

    def _make_layer(self, block: BlockFn, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * EXPANSION:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * EXPANSION, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(planes * EXPANSION))
        out = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * EXPANSION
        out += [block(self.inplanes, planes, 1, None) for _ in range(1, blocks)]
        return nn.Sequential(*out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def save_training_checkpoint(model: nn.Module, path, legacy: bool, extra: dict) -> None:
    """``torch.save({'epoch', 'state_dict' of nn.DataParallel ('module.' keys), 'optimizer', **extra})``.

    Args:
        legacy: PyTorch's pre-1.6 (non-zip) format, as the 2019 PytorchInsight files were written.
        extra: The script's other entries (``best_acc``, PytorchInsight's ``acc``).
    """
    state_dict = {f'module.{k}': v for k, v in model.state_dict().items()}
    first = next(iter(model.parameters()))
    optimizer = {'state': {0: {'momentum_buffer': torch.zeros_like(first)}},
                 'param_groups': [{'lr': 0.0001, 'momentum': 0.9, 'dampening': 0, 'weight_decay': 1e-4,
                                   'nesterov': False, 'params': list(range(len(state_dict)))}]}
    torch.save({'epoch': 100, 'state_dict': state_dict, 'optimizer': optimizer, **extra}, path,
               _use_new_zipfile_serialization=not legacy)
