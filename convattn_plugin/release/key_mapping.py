"""One model in mmpretrain and in timm: create arguments and state-dict keys.

An mmpretrain classifier of this project is ``ImageClassifier(backbone, neck, head)`` whose
backbone (:class:`~convattn_plugin.mm.ConvAttnResNet` / :class:`~convattn_plugin.mm.ConvAttnVGG`)
holds the timm model, headless, as ``backbone.timm_model``. The same network in timm is that
timm model with its own classifier:

==========  =======================================  ========================================
family      mmpretrain keys                          timm keys
==========  =======================================  ========================================
both        ``backbone.timm_model.<k>``              ``<k>``
ResNet      ``head.fc.*`` (``LinearClsHead``)        ``fc.*``
VGG         ``head.layers.{i}.fc.*``, i < n          ``pre_logits.layers.{i}.fc.*``
            (``StackedLinearClsHead``, n hidden)     (``head_mlp``: GAP + MLP ``pre_logits``)
VGG         ``head.layers.{n}.fc.*`` / ``head.fc.*``  ``head.fc.*``
==========  =======================================  ========================================

The neck must be ``GlobalAveragePooling``: timm's ResNet pools in its head, and a VGG built
with ``head_mlp`` pools in its ``pre_logits``.

Not convertible, refused with :class:`ConversionError`:

* ``ConvAttnResNet(stem='cifar')``: timm's ``ResNet`` has no 3x3 stride-1 stem without max
  pool among its create arguments, so ``config.json`` could not rebuild it.
* ``ConvAttnVGG(attention=None)``: the plain network is timm's own ``vgg*``, whose head is the
  7x7-conv MLP; only the project's ``vgg*_{kind}`` models take ``head_mlp``.
* Other necks and heads (a ``StackedLinearClsHead`` with a non-default norm or another activation,
  a ResNet with an MLP head, ...).
* ``model_args`` that are not plain data: every key an identifier, every value a JSON literal
  (a crafted ``config.json`` cannot put code into a generated config).

Preprocessing is in :mod:`.preprocessing`.
"""
from __future__ import annotations

import json
import keyword
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import timm
import torch
import torch.nn as nn

from ..mm import ConvAttnResNet, ConvAttnVGG, parse_preset, timm_model_name

__all__ = [
    'ConversionError', 'TimmSpec', 'spec_from_mm_model', 'spec_from_timm', 'mm_to_timm_state_dict',
    'timm_to_mm_state_dict', 'mm_model_cfg', 'check_plain_data',
]

# The stage whose output the classifier reads: layer4 of a ResNet, the fifth pool of a VGG.
_LAST_STAGE = {'resnet': 3, 'vgg': 4}
# Arguments that describe the head; the rest of model_args go to the backbone's timm_kwargs.
_HEAD_ARGS = ('num_classes', 'global_pool', 'head_mlp', 'head_mlp_norm', 'drop_rate')
# Arguments the mm backbones set for themselves.
_BACKBONE_OWN_ARGS = ('num_classes', 'global_pool', 'mlp_ratio')


class ConversionError(ValueError):
    """The model has no equivalent in the other framework's layout."""


@dataclass(frozen=True)
class TimmSpec:
    """A model in timm terms: its name, its create arguments and its key mapping.

    Attributes:
        model_name: timm model name, e.g. ``'resnet18_cbam'``.
        model_args: JSON-serialisable ``timm.create_model`` arguments, ``num_classes``
            included (what ``config.json`` records as ``model_args``).
        family: ``'resnet'`` or ``'vgg'``.
        rules: ``(mmpretrain prefix, timm prefix)`` pairs; a key takes the longest match.
    """
    model_name: str
    model_args: dict[str, Any]
    family: str
    rules: tuple[tuple[str, str], ...] = field(default=())

    @property
    def num_classes(self) -> int:
        return int(self.model_args.get('num_classes', 1000))

    @property
    def head_mlp(self) -> Optional[tuple[int, ...]]:
        """Hidden widths of a VGG's GAP + MLP head; ``None`` for a ResNet."""
        hidden = self.model_args.get('head_mlp')
        return None if hidden is None else tuple(hidden)

    def create(self, **kwargs: Any) -> nn.Module:
        """``timm.create_model(model_name, **model_args, **kwargs)``."""
        return timm.create_model(self.model_name, **{**self.model_args, **kwargs})


def _rules(family: str, head_mlp: Optional[tuple[int, ...]], stacked: bool) -> tuple[tuple[str, str], ...]:
    rules = [('backbone.timm_model.', '')]
    if family == 'resnet':
        rules.append(('head.fc.', 'fc.'))
    else:
        n = len(head_mlp or ())
        rules += [(f'head.layers.{i}.', f'pre_logits.layers.{i}.') for i in range(n)]
        # StackedLinearClsHead's classifier is its last LinearBlock; LinearClsHead's is `fc`.
        rules.append((f'head.layers.{n}.fc.' if stacked else 'head.fc.', 'head.fc.'))
    return tuple(rules)


def check_plain_data(value: Any, where: str) -> None:
    """Raise :class:`ConversionError` unless ``value`` is plain data that ``config.json`` can hold.

    Plain: ``None``, ``bool``, ``int``, finite ``float``, ``str``, and lists, tuples and dicts of
    these whose keys are Python identifiers (model arguments are keyword names).
    """
    if value is None or type(value) in (bool, int, str):
        return
    if type(value) is float:
        if value != value or value in (float('inf'), float('-inf')):
            raise ConversionError(f'{where}={value!r}: not a finite number')
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            check_plain_data(item, f'{where}[{i}]')
        return
    if type(value) is dict:
        for k, item in value.items():
            if not (isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k)):
                raise ConversionError(f'{where}: key {k!r} is not a Python identifier; model arguments are '
                                      'keyword names (letters, digits, underscores)')
            check_plain_data(item, f'{where}.{k}')
        return
    raise ConversionError(f'{where}={value!r} ({type(value).__name__}) is not plain data: accepted are None, '
                          'bool, int, float, str and lists / dicts of them; give it as a name or number')


def _json_args(args: dict[str, Any], where: str) -> dict[str, Any]:
    check_plain_data(args, f'{where} model_args')
    json.dumps(args)
    return args


def spec_from_mm_model(model: nn.Module) -> TimmSpec:
    """The timm equivalent of a built mmpretrain ``ImageClassifier``.

    Args:
        model: Built from a config whose backbone is ``ConvAttnResNet`` / ``ConvAttnVGG``
            (or a ``ConvAttnBackbone`` preset), neck ``GlobalAveragePooling``, head
            ``LinearClsHead`` or (VGG) ``StackedLinearClsHead``.

    Raises:
        ConversionError: For a model with no timm equivalent; the message says why.
    """
    from mmpretrain.models.heads import LinearClsHead, StackedLinearClsHead

    backbone = getattr(model, 'backbone', None)
    if isinstance(backbone, ConvAttnResNet):
        family = 'resnet'
        if backbone.stem != 'imagenet':
            raise ConversionError(
                f"ConvAttnResNet(stem={backbone.stem!r}) cannot be converted to timm: timm's ResNet has no "
                "3x3 stride-1 stem without max pool among its create arguments, so config.json could not "
                "rebuild it. Train with stem='imagenet' (the digits configs do) to publish for timm.")
    elif isinstance(backbone, ConvAttnVGG):
        family = 'vgg'
        if backbone.attention is None:
            raise ConversionError(
                f"a plain {backbone.arch} (attention=None) cannot be converted to timm: it is timm's own "
                f"{backbone.arch}, whose head is a 7x7-conv MLP; only the project's vgg*_{{kind}} models "
                "take head_mlp, the GAP + MLP head of mmpretrain's configs")
    else:
        raise ConversionError(
            f'backbone {type(backbone).__name__} has no timm layout here; supported: ConvAttnResNet, '
            'ConvAttnVGG and ConvAttnBackbone presets (convattn_plugin.mm)')
    last = _LAST_STAGE[family]
    if max(backbone.out_indices) != last:
        raise ConversionError(
            f'{type(backbone).__name__}(out_indices={backbone.out_indices}): the classifier must read stage '
            f'{last}, the last one, as timm\'s does')

    gap = getattr(model.neck, 'gap', None) if getattr(model, 'neck', None) is not None else None
    if type(model.neck).__name__ != 'GlobalAveragePooling' or not isinstance(gap, nn.AdaptiveAvgPool2d):
        raise ConversionError(
            f'neck {type(model.neck).__name__}: only GlobalAveragePooling (dim=2) has a timm equivalent')

    get_model_args = getattr(timm.models, 'get_model_args', None)
    if get_model_args is None:  # config.json's model_args need timm's save_for_hf(model_args=...) too
        raise ConversionError(f'converting to timm needs a timm with get_model_args and save_for_hf(model_args=...) '
                              f'(1.0.31 has them); this is timm {timm.__version__}')
    head = model.head
    args = {k: v for k, v in get_model_args(backbone.timm_model).items() if k not in _BACKBONE_OWN_ARGS}
    stacked = False
    if type(head) is LinearClsHead:
        hidden: tuple[int, ...] = ()
    elif type(head) is StackedLinearClsHead and family == 'vgg':
        act = (head.act_cfg or {}).get('type')
        norm = dict(head.norm_cfg or {})
        norm.pop('requires_grad', None)
        if norm not in ({}, {'type': 'BN1d'}, {'type': 'BN'}) or act != 'ReLU':
            raise ConversionError(
                f'StackedLinearClsHead(norm_cfg={head.norm_cfg!r}, act_cfg={head.act_cfg!r}): the timm head '
                "(head_mlp) has Linear + optional default BatchNorm + ReLU + dropout layers only; use "
                "norm_cfg=None or dict(type='BN1d'), act_cfg=dict(type='ReLU')")
        if norm:
            args['head_mlp_norm'] = True
        hidden = tuple(int(c) for c in head.mid_channels)
        stacked = True
        if head.dropout_rate:
            args['drop_rate'] = float(head.dropout_rate)
    else:
        allowed = 'LinearClsHead' + (' or StackedLinearClsHead' if family == 'vgg' else '')
        raise ConversionError(f'head {type(head).__name__} on a {family} backbone: only {allowed} has a timm '
                              'equivalent')
    args['num_classes'] = int(head.num_classes)
    if family == 'vgg':
        args['head_mlp'] = list(hidden)
    name = timm_model_name(backbone.arch, backbone.attention)
    return TimmSpec(name, _json_args(args, name), family, _rules(family, hidden if family == 'vgg' else None, stacked))


def spec_from_timm(model_name: str, model_args: Optional[Mapping[str, Any]] = None) -> TimmSpec:
    """The key mapping of a timm model of this project (from ``config.json``'s fields).

    Args:
        model_name: ``architecture``: ``resnet{d}[_{kind}]`` or ``vgg{d}[_bn]_{kind}``.
        model_args: ``model_args`` (``num_classes``, ``attn_stages``, ``head_mlp``, ...).

    Raises:
        ConversionError: A model with no mmpretrain equivalent here.
    """
    if not isinstance(model_name, str):
        raise ConversionError(f'architecture {model_name!r}: expected a model name (str)')
    args = _json_args(dict(model_args or {}), model_name)
    try:
        cls, preset = parse_preset(model_name)
    except ValueError as e:
        raise ConversionError(f'timm model {model_name!r} has no mmpretrain layout here: {e}') from e
    family = 'resnet' if cls is ConvAttnResNet else 'vgg'
    if args.get('global_pool', 'avg') != 'avg':
        raise ConversionError(f"{model_name}: global_pool={args['global_pool']!r}; mmpretrain's "
                              "GlobalAveragePooling neck is 'avg'")
    if family == 'vgg':
        if preset['attention'] is None or args.get('head_mlp') is None:
            raise ConversionError(
                f"{model_name}: timm's VGG head (pre_logits, a 7x7-conv MLP on the un-pooled map) has no "
                "mmpretrain equivalent; the project's vgg*_{kind} models built with head_mlp=(...) have "
                "the GAP + MLP head that converts")
        hidden = tuple(args['head_mlp'])
        return TimmSpec(model_name, args, family, _rules(family, hidden, stacked=bool(hidden)))
    if args.get('head_mlp') is not None:
        raise ConversionError(f'{model_name}: head_mlp is a VGG argument')
    return TimmSpec(model_name, args, family, _rules(family, None, stacked=False))


def _map_keys(state_dict: Mapping[str, torch.Tensor], rules: list[tuple[str, str]]) -> dict[str, torch.Tensor]:
    rules = sorted(rules, key=lambda r: len(r[0]), reverse=True)  # the most specific prefix first
    out = {}
    for k, v in state_dict.items():
        for src, dst in rules:
            if k.startswith(src):
                k = dst + k[len(src):]
                break
        out[k] = v  # an unmatched key stays as it is: the strict check reports it
    return out


def mm_to_timm_state_dict(state_dict: Mapping[str, torch.Tensor], spec: TimmSpec) -> dict[str, torch.Tensor]:
    """mmpretrain ``ImageClassifier`` keys -> timm keys (see the module docstring)."""
    return _map_keys(state_dict, list(spec.rules))


def timm_to_mm_state_dict(state_dict: Mapping[str, torch.Tensor], spec: TimmSpec) -> dict[str, torch.Tensor]:
    """timm keys -> mmpretrain ``ImageClassifier`` keys (see the module docstring)."""
    return _map_keys(state_dict, [(dst, src) for src, dst in spec.rules])


def mm_model_cfg(spec: TimmSpec, num_features: int) -> dict[str, Any]:
    """The mmpretrain ``model`` config of a timm model of this project.

    Args:
        spec: From :func:`spec_from_timm`.
        num_features: Channels of the backbone's last stage (the timm model's ``num_features``).
    """
    args = dict(spec.model_args)
    backbone: dict[str, Any] = dict(type='ConvAttnBackbone', arch=spec.model_name,
                                    out_indices=(_LAST_STAGE[spec.family],))
    for k in ('attn_stages', 'attn_kwargs'):
        if args.get(k) is not None:
            backbone[k] = args[k]
    timm_kwargs = {k: v for k, v in args.items() if k not in (*_HEAD_ARGS, 'attn_stages', 'attn_kwargs')}
    if timm_kwargs.get('in_chans') == 3:
        del timm_kwargs['in_chans']  # timm's default; keeps generated configs like hand-written ones
    if timm_kwargs:
        backbone['timm_kwargs'] = timm_kwargs
    hidden = spec.head_mlp or ()
    if hidden:
        head = dict(type='StackedLinearClsHead', num_classes=spec.num_classes, in_channels=num_features,
                    mid_channels=list(hidden), dropout_rate=float(args.get('drop_rate', 0.)),
                    norm_cfg=dict(type='BN1d') if args.get('head_mlp_norm') else None,
                    loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1,))
    else:
        head = dict(type='LinearClsHead', num_classes=spec.num_classes, in_channels=num_features,
                    loss=dict(type='CrossEntropyLoss', loss_weight=1.0), topk=(1,))
    return dict(type='ImageClassifier', backbone=backbone, neck=dict(type='GlobalAveragePooling'), head=head)
