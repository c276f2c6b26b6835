"""VGG's classifier heads: timm's 7x7-conv MLP (and torchvision's layout of it), or ``GapMlp``.

timm's VGG classifies with ``pre_logits``, a 4096-wide MLP whose first layer is a 7x7
convolution on the un-pooled map (~100 M parameters at 224 px); torchvision stores the same
weights as ``classifier.{0,3,6}`` Linear layers (:func:`torchvision_vgg_to_timm`). That head
first pools maps smaller than 7x7 up to 7x7, a branch on the input size: ``torch.export``
with a dynamic height and width then holds for one side of 224 px only (e.g. 64..223).

``head_mlp=(512,)`` replaces it by global average pooling and a Linear + ReLU + dropout
stack of those widths (:class:`GapMlp`; ``()``: pooling only, then the linear classifier).
That is the function of mmpretrain's ``GlobalAveragePooling`` neck + ``StackedLinearClsHead``
(``LinearClsHead`` for ``()``), with the same weight shapes (``pre_logits.layers.{i}.fc`` is
the stacked head's ``layers.{i}.fc``; ``head.fc`` its last layer), so a model trained in
mmpretrain converts to timm key by key (:mod:`convattn_plugin.release`) and
``config.json``'s ``model_args`` rebuilds it. ``drop_rate`` is then the dropout after each
hidden layer, as the stacked head's ``dropout_rate``. It has no branch on the size, so it
exports for any height and width.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn
from timm.layers import ClassifierHead
from timm.models.vgg import VGG

__all__ = ['GapMlp', 'check_head_mlp', 'set_gap_mlp_head', 'torchvision_vgg_to_timm']

# torchvision's classifier Linear layers -> timm's conv MLP and classifier.
_TORCHVISION_HEAD = {'classifier.0.': 'pre_logits.fc1.', 'classifier.3.': 'pre_logits.fc2.',
                     'classifier.6.': 'head.fc.'}


def torchvision_vgg_to_timm(state_dict: Mapping[str, torch.Tensor], model: Any = None) -> dict[str, torch.Tensor]:
    """Map torchvision's VGG keys onto timm's (``features.*`` are the same in both).

    ``classifier.0`` (a Linear on the flattened 7x7 map) becomes the 7x7 conv ``pre_logits.fc1``
    and ``classifier.3`` the 1x1 conv ``pre_logits.fc2``; keys of other layouts pass unchanged.
    Usable as timm's ``pretrained_filter_fn``.
    """
    out = {}
    for key, value in state_dict.items():
        prefix = next((p for p in _TORCHVISION_HEAD if key.startswith(p)), None)
        if prefix is None:
            out[key] = value
            continue
        new_key = _TORCHVISION_HEAD[prefix] + key[len(prefix):]
        if key == 'classifier.0.weight':
            value = value.reshape(value.shape[0], -1, 7, 7)
        elif key == 'classifier.3.weight':
            value = value.reshape(value.shape[0], value.shape[1], 1, 1)
        out[new_key] = value
    return out


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

    The output is ``(N, C, 1, 1)``, so the model's ``ClassifierHead`` (average pooling, then
    ``fc``) follows unchanged and ``reset_classifier`` keeps working.

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
        self.layers = nn.Sequential(*[
            _LinearBlock(i, o, drop_rate, act_layer, norm, device=device, dtype=dtype)
            for i, o in zip((in_features, *hidden), hidden)])
        self.num_features = hidden[-1] if hidden else in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.pool(x).flatten(1))
        return x[:, :, None, None]


def check_head_mlp(head_mlp: Any, variant: str) -> tuple[int, ...]:
    """``head_mlp`` as a tuple of positive widths; ``ValueError`` naming the value otherwise."""
    widths = (head_mlp,) if isinstance(head_mlp, int) else head_mlp
    try:
        widths = tuple(widths)
    except TypeError:
        widths = (None,)
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f'{variant}: head_mlp must be a sequence of positive ints (hidden widths), '
                         f'got {head_mlp!r}')
    return widths


def set_gap_mlp_head(model: VGG, hidden: tuple[int, ...], norm: bool, kwargs: Mapping[str, Any]) -> None:
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
