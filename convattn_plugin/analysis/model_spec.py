"""Model names of the benchmark and the attention-map tool, and building them with timm.

Models are named as in timm, with two additions for building a model on the fly:

* ``resnet50`` -- any timm model, e.g. a plain baseline, or ``resnet50_se`` once
  ``import convattn_plugin`` registers it;
* ``resnet50+se`` -- timm's ResNet with *our* ``se`` in every block
  (``block_args=dict(attn_layer=SqueezeExcite)``), for any registered kind;
* ``resnet50+timm:se`` -- the same ResNet with *timm's own* implementation
  (``block_args=dict(attn_layer='se')``).

Every model is compared with its baseline: the name without ``_<kind>`` / ``+...``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch.nn as nn

from ..layers import get_attn, list_attentions

__all__ = ['TIMM_KINDS', 'ModelSpec', 'parse_model', 'default_models', 'build_model']

# Our kinds that timm implements too, and timm's name for each (``timm.layers.get_attn``).
TIMM_KINDS = {'se': 'se', 'eca': 'eca', 'cbam': 'cbam', 'gc': 'gc', 'coord': 'coord'}


@dataclass(frozen=True)
class ModelSpec:
    """One model of a run.

    Attributes:
        name: As given (``resnet50_se``, ``resnet50+se``, ``resnet50+timm:se``).
        arch: The timm model built (``resnet50``, or ``resnet50_se`` if registered).
        kind: Attention kind (``''`` for a plain model).
        impl: ``'ours'``, ``'timm'`` or ``'baseline'``.
        baseline: Name of the model it is compared with (itself for a baseline).
        attn_layer: What goes into ``block_args=dict(attn_layer=...)`` (``None``: nothing).
    """
    name: str
    arch: str
    kind: str = ''
    impl: str = 'baseline'
    baseline: str = ''
    attn_layer: object = None


def parse_model(name: str) -> ModelSpec:
    """Parse a model name of the grammar in the module docstring."""
    if not isinstance(name, str) or not name:
        raise ValueError(f'model name must be a non-empty string, got {name!r}')
    if '+' in name:
        arch, attn = name.split('+', 1)
        if attn.startswith('timm:'):
            kind = attn[len('timm:'):]
            if not kind:
                raise ValueError(f'model {name!r}: no kind after "timm:" (e.g. {arch}+timm:se)')
            return ModelSpec(name, arch, kind, 'timm', arch, TIMM_KINDS.get(kind, kind))
        cls = get_attn(attn)  # ValueError listing the known kinds
        return ModelSpec(name, arch, attn, 'ours', arch, cls)
    for kind in sorted(list_attentions(), key=len, reverse=True):
        if name.endswith('_' + kind):
            return ModelSpec(name, name, kind, 'ours', name[:-len(kind) - 1])
    return ModelSpec(name, name, '', 'baseline', name)


def default_models(arch: str = 'resnet50', kinds: Sequence[str] = ('se', 'cbam', 'eca', 'gc'),
                   with_timm: bool = True) -> list[str]:
    """``arch``, ours for each kind (the registered ``<arch>_<kind>`` if it exists), timm's."""
    import timm

    import convattn_plugin  # noqa: F401 - registers our models into timm

    names = [arch]
    for kind in kinds:
        names.append(f'{arch}_{kind}' if timm.is_model(f'{arch}_{kind}') else f'{arch}+{kind}')
        if with_timm and kind in TIMM_KINDS:
            names.append(f'{arch}+timm:{kind}')
    return names


def build_model(spec: ModelSpec, num_classes: int = 1000, attn_inplace: bool = False,
                zero_init_last: Optional[bool] = None) -> nn.Module:
    """Build ``spec`` with timm (random init).

    Args:
        spec: What to build.
        num_classes: Classifier width.
        attn_inplace: Ask our attention layers to gate in place in inference
            (``attn_kwargs=dict(inplace=True)`` for registered models, ``inplace=True``
            on the layer for ``ARCH+KIND``); timm's layers have no such option.
        zero_init_last: Passed to timm's ResNet when not ``None`` (``False`` keeps every
            block's last BatchNorm non-zero, so untrained gates see real features).
    """
    import timm

    import convattn_plugin  # noqa: F401

    kwargs: dict = dict(num_classes=num_classes)
    if zero_init_last is not None:
        kwargs['zero_init_last'] = zero_init_last
    if spec.attn_layer is not None:
        kwargs['block_args'] = dict(attn_layer=spec.attn_layer)
    elif attn_inplace and spec.impl == 'ours':
        kwargs['attn_kwargs'] = dict(inplace=True)
    try:
        model = timm.create_model(spec.arch, **kwargs)
    except TypeError as e:
        raise ValueError(f'model {spec.name!r}: {spec.arch!r} does not take these options '
                         f'({sorted(kwargs)}): {e}') from e
    if attn_inplace and spec.attn_layer is not None and spec.impl == 'ours':
        for mod in model.modules():
            if isinstance(mod, spec.attn_layer) and hasattr(mod, 'inplace'):
                mod.inplace = True
    return model
