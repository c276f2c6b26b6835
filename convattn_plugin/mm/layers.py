"""Every attention kind as a layer in mmengine's root ``MODELS`` registry.

The name derives from the kind's registry name, as every other name does (timm model
``resnet50_eca``, config ``resnet50-eca_...``): ``'ConvAttn'`` followed by the kind with the
first letter of each ``_``-separated part in upper case. ``cbam`` -> ``ConvAttnCbam``, ``eca``
-> ``ConvAttnEca``, ``nonlocal`` -> ``ConvAttnNonlocal``, a user's ``my_gate`` ->
``ConvAttnMyGate``. The prefix keeps them apart from mmcv's own ``NonLocal2d``,
``ContextBlock`` and ``GeneralizedAttention``, which stay untouched. :func:`mm_layer_name`
gives the name of a kind, :func:`mm_layer_names` the whole table. (Before issue 21 the names
followed the Python class, ``ConvAttnEfficientChannelAttn`` for ``eca``; those are gone.)

The registered class is a thin subclass of the pure-torch one that also accepts mmcv's
plugin convention, ``in_channels=`` instead of ``channels``, so mmdet / mmseg backbones
can use it through ``plugins=[dict(cfg=dict(type='ConvAttnCbam'), ...)]``.

Initialisation: a parent mmengine ``BaseModule`` (mmdet's and mmseg's ``ResNet``) applies its
``init_cfg`` (Kaiming on every ``Conv2d``, constant 1 on every BatchNorm) to all its
descendants, plugin layers included, which would undo a kind's own initialisation (GC's and
non-local's zero-initialised output that makes a new block the identity). mmengine then calls
``init_weights()`` on each child that has one: the registered class has one, which restores
the initialisation of a freshly built layer of the same arguments.
"""
from __future__ import annotations

import sys
from typing import Optional

from mmengine.registry import MODELS

from ..layers import get_attn_info, list_attentions

__all__ = ['MM_LAYER_PREFIX', 'mm_layer_name', 'mm_layer_names', 'register_attention_layers']

MM_LAYER_PREFIX = 'ConvAttn'


def mm_layer_name(kind: str) -> str:
    """Registry name of attention ``kind`` in mmengine's ``MODELS``: ``'eca'`` -> ``'ConvAttnEca'``.

    Raises:
        ValueError: ``kind`` is not a registered kind (the message lists them).
    """
    kind = get_attn_info(kind).name
    return MM_LAYER_PREFIX + ''.join(part[:1].upper() + part[1:] for part in kind.split('_'))


def mm_layer_names() -> dict[str, str]:
    """``{kind: registry name}`` for every registered kind."""
    return {kind: mm_layer_name(kind) for kind in list_attentions()}


def _mm_layer_class(kind: str) -> type:
    base = get_attn_info(kind).cls
    name = mm_layer_name(kind)

    def __init__(self, channels: Optional[int] = None, *args, in_channels: Optional[int] = None, **kwargs):
        if (channels is None) == (in_channels is None):
            raise ValueError(f'{name}: give exactly one of channels= or in_channels= '
                             f'(got channels={channels!r}, in_channels={in_channels!r})')
        channels = channels if channels is not None else in_channels
        base.__init__(self, channels, *args, **kwargs)
        self._init_args = (channels, args, kwargs)  # to rebuild the initial state in init_weights

    def init_weights(self) -> None:
        """Restore this kind's own initialisation: the state of a freshly built layer.

        mmengine calls it after a parent's ``init_cfg`` has re-initialised every descendant,
        so GC's and non-local's zero-initialised outputs (and every other kind's own
        initialisation) survive a parent's ``init_weights()``. Values are copied into the
        existing parameters and buffers (optimisers and devices stay valid). It never marks
        the layer as initialised: the parent's ``init_cfg`` reaches it on every call.
        """
        channels, args, kwargs = self._init_args
        self.load_state_dict(base(channels, *args, **kwargs).state_dict())

    cls = type(name, (base,), {
        '__init__': __init__,
        'init_weights': init_weights,
        '__module__': __name__,
        '__doc__': f'``{kind}`` attention ({base.__name__}) for mmengine configs; '
                   f'takes ``channels`` or mmcv\'s ``in_channels``.\n\n{base.__doc__ or ""}',
        # mmcv's build_plugin_layer names the submodule after this.
        '_abbr_': f'convattn_{kind}',
    })
    return cls


def register_attention_layers() -> dict[str, str]:
    """Register every kind known now into mmengine's root ``MODELS`` (idempotent).

    Call it again after :func:`convattn_plugin.register_attention` to add new kinds.
    Returns the ``{kind: registry name}`` table.
    """
    module = sys.modules[__name__]
    table = mm_layer_names()
    taken: dict[str, str] = {}
    for kind, name in table.items():
        if name in taken:  # e.g. 'x_1' and 'x1' both give ConvAttnX1
            raise ValueError(f'attention kinds {taken[name]!r} and {kind!r} both give the mmengine layer name '
                             f'{name!r}; rename one of them (register_attention)')
        taken[name] = kind
    for kind, name in table.items():
        existing = MODELS.module_dict.get(name)
        if existing is not None:
            if getattr(existing, '__module__', '') != __name__:
                raise KeyError(f'{name} is already registered in mmengine MODELS by {existing!r}')
            if issubclass(existing, get_attn_info(kind).cls):
                continue
        cls = _mm_layer_class(kind)
        setattr(module, name, cls)  # importable by name, so modules holding it pickle
        MODELS.register_module(name=name, module=cls, force=True)
    return table
