"""VGG-11/13/16/19 (plain and ``_bn``) with attention ending each stage: ``vgg{depth}[_bn]_{kind}``.

The model is timm's own :class:`~timm.models.vgg.VGG`. As in seed 003's
``VGG16WithAttention``, the attention sits at the end of each conv stage, after its last
activation and before its max-pool. It is inserted by replacing that activation with
:class:`~convattn_plugin.models.inject.ActAttn` (activation, then attention), so every
``features.{i}`` index of a conv or BN is the one of timm's plain VGG, attention adds
``features.{i}.attn.*``, and plain VGG weights (timm or torchvision layout) load unchanged.
``feature_info`` still points at ``features.{i}``, so stage features include the attention.

Stages are numbered 0..4 (the five conv stages, before pools 1..5; the timm feature
index equals the stage, and ``feature_info[5]`` is the final pool). Kinds with quadratic
cost (``selfattn``, ``nonlocal``, ``dualattn``) default to stage 4 only: at 224 px its
14x14 map gives a 196 x 196 attention matrix per image, where stage 2's 56x56 map would
give 3136 x 3136 (and stage 0 works at full resolution). Override with
``timm.create_model(name, attn_stages=(3, 4), attn_kwargs=dict(rd_ratio=1 / 16))``.

Head: timm's VGG classifies with ``pre_logits``, a 4096-wide MLP whose first layer is a 7x7
convolution on the un-pooled map (~100 M parameters at 224 px). ``head_mlp=(512,)`` replaces
it by global average pooling and a Linear + ReLU + dropout stack of those widths
(:class:`GapMlp`; ``()``: pooling only, then the linear classifier). That is the function of
mmpretrain's ``GlobalAveragePooling`` neck + ``StackedLinearClsHead`` (``LinearClsHead`` for
``()``), with the same weight shapes (``pre_logits.layers.{i}.fc`` is the stacked head's
``layers.{i}.fc``; ``head.fc`` its last layer), so a model trained in mmpretrain converts to
timm key by key (:mod:`convattn_plugin.release`) and ``config.json``'s ``model_args``
rebuilds it. ``drop_rate`` is then the dropout after each hidden layer, as the stacked head's
``dropout_rate``.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn as nn
from timm.layers import ClassifierHead
from timm.models import build_model_with_cfg
from timm.models.vgg import VGG, _filter_fn, cfgs

from ..layers import get_attn_info, list_attentions
from ._factory import attn_cfg, register_kind
from .inject import ActAttn, build_attention, resolve_attn_stages

__all__ = ['VGG_ARCHS', 'GapMlp', 'register_vgg_kind']

# The arguments of timm's own vgg11..vgg19_bn entry points.
VGG_ARCHS: dict[str, dict[str, Any]] = {
    **{f'vgg{d}': dict(cfg=cfgs[f'vgg{d}']) for d in (11, 13, 16, 19)},
    **{f'vgg{d}_bn': dict(cfg=cfgs[f'vgg{d}'], norm_layer=nn.BatchNorm2d) for d in (11, 13, 16, 19)},
}
NUM_STAGES = 5

# timm's register_model reads each name's cfg from here; register_kind fills it.
default_cfgs: dict[str, Any] = {}


class _LinearBlock(nn.Module):
    """Linear, optional BatchNorm, activation, dropout: the hidden layer of mmpretrain's
    ``StackedLinearClsHead`` (same attribute names ``fc`` and ``norm``, so the keys map one
    to one)."""

    def __init__(self, in_features: int, out_features: int, drop_rate: float, act_layer: type[nn.Module],
                 norm: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, out_features, device=device, dtype=dtype)
        self.norm = nn.BatchNorm1d(out_features, device=device, dtype=dtype) if norm else nn.Identity()
        self.act = act_layer(inplace=True)
        self.drop = nn.Dropout(drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.norm(self.fc(x))))


class GapMlp(nn.Module):
    """Global average pooling, then Linear + activation + dropout layers: a VGG ``pre_logits``.

    Replaces timm's 7x7-conv ``ConvMlp`` when a VGG is built with ``head_mlp``. The output is
    ``(N, C, 1, 1)``, so the model's ``ClassifierHead`` (average pooling, then ``fc``) follows
    unchanged and ``reset_classifier`` keeps working.

    Args:
        in_features: Channels of the last feature map.
        hidden: Widths of the hidden layers; empty for pooling only.
        drop_rate: Dropout after each hidden layer.
        act_layer: Activation class.
        norm: BatchNorm after each hidden Linear (``StackedLinearClsHead(norm_cfg=dict(type='BN1d'))``).
    """

    def __init__(self, in_features: int, hidden: Sequence[int], drop_rate: float = 0.,
                 act_layer: type[nn.Module] = nn.ReLU, norm: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.layers = nn.ModuleList()
        for width in hidden:
            self.layers.append(
                _LinearBlock(in_features, width, drop_rate, act_layer, norm, device=device, dtype=dtype))
            in_features = width
        self.num_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x).flatten(1)
        for layer in self.layers:
            x = layer(x)
        return x[:, :, None, None]


def _check_head_mlp(head_mlp: Any, variant: str) -> tuple[int, ...]:
    widths = (head_mlp,) if isinstance(head_mlp, int) else head_mlp
    try:
        widths = tuple(widths)
    except TypeError:
        widths = (None,)
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f'{variant}: head_mlp must be a sequence of positive ints (hidden widths), '
                         f'got {head_mlp!r}')
    return widths


def _set_gap_mlp_head(model: VGG, hidden: tuple[int, ...], norm: bool, kwargs: dict[str, Any]) -> None:
    """Give ``model`` a :class:`GapMlp` ``pre_logits`` and a classifier sized for it."""
    dd = {'device': kwargs.get('device'), 'dtype': kwargs.get('dtype')}
    drop_rate = kwargs.get('drop_rate', 0.)
    model.pre_logits = GapMlp(model.num_features, hidden, drop_rate, kwargs.get('act_layer', nn.ReLU), norm, **dd)
    model.head_hidden_size = model.pre_logits.num_features
    # With hidden layers the last one's dropout already precedes the classifier (as in
    # StackedLinearClsHead); without, dropout before the classifier as timm's heads do.
    model.head = ClassifierHead(model.head_hidden_size, model.num_classes, pool_type=kwargs.get('global_pool', 'avg'),
                                drop_rate=0. if hidden else drop_rate, **dd)
    for m in (*model.pre_logits.modules(), *model.head.modules()):
        if isinstance(m, nn.Linear):  # VGG._initialize_weights' rule for linear layers
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


def _attn_vgg(
        attn_kind: str,
        attn_stages: Union[int, Sequence[int], None] = None,
        attn_kwargs: Optional[dict[str, Any]] = None,
        head_mlp: Optional[Sequence[int]] = None,
        head_mlp_norm: bool = False,
        variant: str = 'VGG',
        **kwargs: Any,
) -> VGG:
    """timm's VGG with ``attn_kind`` after the last activation of every stage in ``attn_stages``.

    Inserted after construction, so ``VGG._initialize_weights`` leaves the kinds' own
    initialisation alone.

    Args:
        attn_kind: Registered attention kind.
        attn_stages: Stages 0..4 that get attention; ``None``: all, or 4 for quadratic kinds.
        attn_kwargs: Options of the kind, checked for every stage.
        head_mlp: Hidden widths of a global-average-pool + MLP ``pre_logits``
            (:class:`GapMlp`) in place of timm's 7x7-conv MLP; ``None`` keeps timm's.
        head_mlp_norm: BatchNorm after each hidden layer of ``head_mlp``.
        variant: Model name for error messages.
        **kwargs: Arguments of timm's ``VGG`` (``cfg`` included).
    """
    hidden = None if head_mlp is None else _check_head_mlp(head_mlp, variant)
    if head_mlp_norm and not hidden:
        raise ValueError(f'{variant}: head_mlp_norm=True needs hidden layers (head_mlp=(width, ...))')
    if hidden is not None:
        # timm's 7x7-conv MLP (~100 M parameters) is replaced below: build it 1 wide.
        kwargs = dict(kwargs, mlp_ratio=1 / 4096)
    model = VGG(**kwargs)
    if hidden is not None:
        _set_gap_mlp_head(model, hidden, head_mlp_norm, kwargs)
    options = {'device': kwargs.get('device'), 'dtype': kwargs.get('dtype'), **(attn_kwargs or {})}
    for s in resolve_attn_stages(attn_kind, attn_stages, NUM_STAGES, variant):
        idx = model.feature_ends[s]  # the activation before the stage's max-pool
        channels = model.feature_info[s]['num_chs']
        where = f'{variant} stage {s} (features.{idx}, {channels} channels)'
        model.features[idx] = ActAttn(model.features[idx], build_attention(attn_kind, channels, where, **options))
    return model


def _create_attn_vgg(variant: str, pretrained: bool = False, **kwargs: Any) -> VGG:
    # As timm's _create_vgg: six feature taps (five stages + final pool), torchvision key mapping.
    out_indices = kwargs.pop('out_indices', (0, 1, 2, 3, 4, 5))
    return build_model_with_cfg(
        partial(_attn_vgg, variant=variant),
        variant,
        pretrained,
        feature_cfg=dict(flatten_sequential=True, out_indices=out_indices),
        pretrained_filter_fn=_filter_fn,
        **kwargs,
    )


def _cfg(kind: str) -> dict[str, Any]:
    return attn_cfg(kind, '1409.1556', first_conv='features.0', classifier='head.fc')


def _entrypoint(arch: str, kind: str) -> Callable[..., VGG]:
    name = f'{arch}_{kind}'

    def entrypoint(pretrained: bool = False, **kwargs: Any) -> VGG:
        model_args = dict(VGG_ARCHS[arch], attn_kind=kind)
        return _create_attn_vgg(name, pretrained, **dict(model_args, **kwargs))

    info = get_attn_info(kind)
    stages = 'stage 4 (the last) only, its cost being quadratic' if info.quadratic else 'every stage'
    entrypoint.__doc__ = (
        f'{arch} with {info.paper or kind} attention before the max-pool of {stages}.\n\n'
        'Keyword args ``attn_stages`` (0..4) and ``attn_kwargs`` override the placement and options; '
        '``head_mlp=(512,)`` gives a global-average-pool + MLP head in place of the 7x7-conv one.')
    return entrypoint


def register_vgg_kind(kind: str) -> list[str]:
    """Register ``vgg{11,13,16,19}[_bn]_{kind}`` into timm (for a kind registered later)."""
    return register_kind(__name__, VGG_ARCHS, kind, _entrypoint, _cfg)


for _kind in list_attentions():
    register_vgg_kind(_kind)
