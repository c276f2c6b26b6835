"""Where ``add_attention`` puts attention: position patterns and each timm family's default.

A position is a module name from ``model.named_modules()`` or a glob pattern in which each
``*`` matches within one dotted level (``'layer*.*'`` is every ResNet block, not their
convolutions). Without ``positions``, a model of a known timm family gets its default:

=============================  ==========================  ===================================
timm class (models)            default positions           where the attention goes
=============================  ==========================  ===================================
ResNet (resnet*, resnet50d,    ``layer*.*``                each block's ``se`` slot
resnext*, ...)
VGG                            the stage-ending            after the activation, before the
                               activations                 max-pool
ConvNeXt                       ``stages.*``                end of each stage (its ``blocks``)
EfficientNet (efficientnet_*,  ``blocks.{i}.{j}`` of each  the ``se`` slot, or after the last
mobilenetv2_*), MobileNetV3    block with an ``se``        norm of the block's branch
RegNet                         ``s[0-9].b[0-9]*``          each block's ``se`` slot
DenseNet                       ``features.transition*``    after each transition
=============================  ==========================  ===================================
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Optional, Sequence, Union

import torch.nn as nn

__all__ = ['default_positions', 'match_position', 'resolve_positions']

# timm model class name -> default position patterns.
_FAMILY_POSITIONS: dict[str, tuple[str, ...]] = {
    'ResNet': ('layer*.*',),
    'ConvNeXt': ('stages.*',),
    'RegNet': ('s[0-9].b[0-9]*',),
    'DenseNet': ('features.transition*',),
}


def default_positions(model: nn.Module) -> tuple[str, ...]:
    """The default positions of ``model``'s family (see the table in this module's docstring).

    Raises:
        ValueError: A model of no known family; the message lists the known ones.
    """
    name = type(model).__name__
    if name == 'VGG':  # the stage-ending activations that feature_info points at
        return tuple(info['module'] for info in model.feature_info[:-1])
    if name in ('EfficientNet', 'MobileNetV3'):  # the residual blocks (not a final 1x1 ConvBnAct)
        return tuple(f'blocks.{i}.{j}' for i, stage in enumerate(model.blocks)
                     for j, block in enumerate(stage) if hasattr(block, 'se'))
    if name in _FAMILY_POSITIONS:
        return _FAMILY_POSITIONS[name]
    known = ', '.join(sorted([*_FAMILY_POSITIONS, 'VGG', 'EfficientNet', 'MobileNetV3']))
    raise ValueError(
        f'add_attention: no default positions for a {name}; pass positions= (module names or '
        f'globs, e.g. positions="stages.*"). Models with defaults: {known}')


def match_position(pattern: str, name: str) -> bool:
    """Glob per dotted component: ``layer*.*`` matches ``layer1.0`` but not ``layer1.0.conv1``."""
    parts, pattern_parts = name.split('.'), pattern.split('.')
    return len(parts) == len(pattern_parts) and all(fnmatchcase(n, p) for n, p in zip(parts, pattern_parts))


def resolve_positions(model: nn.Module, positions: Optional[Union[str, Sequence[str]]]) -> dict[str, nn.Module]:
    """The modules ``positions`` selects (``None``: the family's default), by name.

    Raises:
        ValueError: An empty selection, a pattern that matches nothing, or a module selected
            together with one of its ancestors.
    """
    if positions is None:
        positions = default_positions(model)
    if isinstance(positions, str):
        patterns = [positions]
    elif isinstance(positions, Sequence) and all(isinstance(p, str) for p in positions):
        patterns = list(positions)
    else:
        raise ValueError(f'positions must be a module name, a glob or a list of them, got {positions!r}')
    if not patterns:
        raise ValueError('positions is empty: name at least one module (glob patterns allowed)')
    modules = {n: m for n, m in model.named_modules() if n}
    targets: dict[str, nn.Module] = {}
    for pattern in patterns:
        found = {n: m for n, m in modules.items() if match_position(pattern, n)}
        if not found:
            top = ', '.join(n for n in modules if '.' not in n)
            raise ValueError(
                f'position {pattern!r} matches no module of {type(model).__name__} '
                f'(globs match one dotted level per `*`; its top-level modules are: {top})')
        targets.update(found)
    # A module and one of its ancestors both selected would get attention twice on one path.
    for n in targets:
        parent = next((p for p in targets if n.startswith(p + '.')), None)
        if parent is not None:
            raise ValueError(f'positions select both {parent!r} and its submodule {n!r}; choose one level')
    return targets
