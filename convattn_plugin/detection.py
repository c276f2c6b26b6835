"""torchvision detection on an attention ResNet: :func:`resnet_fpn_backbone`.

torchvision's detectors (``FasterRCNN``, ``MaskRCNN``, ``RetinaNet``, ``FCOS``, ...) take any
module with an ``out_channels`` attribute that returns an ordered dict of feature maps. For its
own ResNets, torchvision builds that module with ``resnet_fpn_backbone``: the ResNet's
``layer1..layer4`` under an ``IntermediateLayerGetter`` (inside ``BackboneWithFPN``), a
``FeaturePyramidNetwork`` on top, and, when starting from pretrained weights, frozen BatchNorm
(``FrozenBatchNorm2d``) and a frozen stem and early stages (``trainable_layers``).
:func:`resnet_fpn_backbone` does the same for any timm ResNet, ours (``resnet50_cbam``) or
timm's own (``resnet50``, the plain baseline), with one difference that the attention
requires: whatever starts fresh keeps training. Three lines::

    backbone = resnet_fpn_backbone('resnet50_cbam', weights='resnet50.pth')  # plain timm/torchvision file
    print(backbone.load_report)                      # the attention keys stayed fresh, the rest loaded
    model = torchvision.models.detection.FasterRCNN(backbone, num_classes=3)
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Sequence, Union

import timm
import torch
import torch.nn as nn
from timm.layers import freeze_batch_norm_2d
from timm.models.resnet import ResNet
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops.feature_pyramid_network import ExtraFPNBlock
from torchvision.ops.misc import FrozenBatchNorm2d

from .models import LoadReport, attention_types, load_backbone_weights
from .models.attn_resnet import AttnThenBatchNorm2d

__all__ = ['STAGE_STRIDES', 'resnet_fpn_backbone']

# Output stride of layer1..layer4 of a ResNet (input pixels per feature-map pixel).
STAGE_STRIDES = {1: 4, 2: 8, 3: 16, 4: 32}
# torchvision's order of freezing: trainable_layers=k trains the first k of these.
_TRAINABLE_ORDER = ('layer4', 'layer3', 'layer2', 'layer1', 'conv1')


class AttnThenFrozenBatchNorm2d(FrozenBatchNorm2d):
    """``frozen_bn(attn(x))``: the frozen form of :class:`~convattn_plugin.models.attn_resnet.AttnThenBatchNorm2d`.

    The ``before_bn2`` placement (SimAM's) puts the attention inside a block's ``bn2``.
    timm's ``freeze_batch_norm_2d`` would turn that module into a plain ``FrozenBatchNorm2d``
    and drop the attention; this keeps it, under the same keys (``bn2.attn.*``).
    """

    def __init__(self, attn: nn.Module, frozen: FrozenBatchNorm2d) -> None:
        super().__init__(frozen.weight.numel(), eps=frozen.eps)
        self.load_state_dict(frozen.state_dict())
        self.attn = attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.attn(x))

    def __repr__(self) -> str:  # FrozenBatchNorm2d's own repr hides the attention child
        return nn.Module.__repr__(self)


def _freeze_plain_batch_norm(module: nn.Module, attention: tuple[type, ...]) -> None:
    """Replace every BatchNorm2d of ``module`` by ``FrozenBatchNorm2d``, leaving the attention's own."""
    for name, child in module.named_children():
        if isinstance(child, attention):
            continue  # the attention's BN stays an ordinary, trainable BatchNorm
        if isinstance(child, AttnThenBatchNorm2d):
            setattr(module, name, AttnThenFrozenBatchNorm2d(child.attn, freeze_batch_norm_2d(child)))
        elif isinstance(child, nn.BatchNorm2d):
            setattr(module, name, freeze_batch_norm_2d(child))
        else:
            _freeze_plain_batch_norm(child, attention)


def _check_returned_layers(returned_layers: Optional[Sequence[int]]) -> list[int]:
    if returned_layers is None:
        return [1, 2, 3, 4]
    layers = list(returned_layers) if isinstance(returned_layers, (list, tuple)) else None
    if (not layers or any(not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 4 for k in layers)
            or layers != sorted(set(layers))):
        raise ValueError(f'returned_layers must be a non-empty, increasing list of ResNet stages 1..4 '
                         f'(layer1..layer4), e.g. [2, 3, 4] for RetinaNet and FCOS; got {returned_layers!r}')
    return layers


def _check_trainable_layers(trainable_layers: Optional[int], pretrained: bool) -> int:
    if trainable_layers is None:
        return 3 if pretrained else 5  # torchvision's defaults
    if not isinstance(trainable_layers, int) or isinstance(trainable_layers, bool) or not 0 <= trainable_layers <= 5:
        raise ValueError(f'trainable_layers must be an int in 0..5 (5: all of the ResNet trains, 0: only the '
                         f'FPN and the attention), got {trainable_layers!r}')
    if trainable_layers < 5 and not pretrained:
        raise ValueError(f'trainable_layers={trainable_layers} would freeze randomly initialised layers: '
                         'freeze only when starting from weights (weights=...), or leave trainable_layers unset')
    return trainable_layers


def resnet_fpn_backbone(
        backbone_name: str,
        *,
        weights: Union[str, os.PathLike, Mapping[str, torch.Tensor], None] = None,
        trainable_layers: Optional[int] = None,
        returned_layers: Optional[Sequence[int]] = None,
        out_channels: int = 256,
        extra_blocks: Optional[ExtraFPNBlock] = None,
        frozen_bn: Optional[bool] = None,
        **model_kwargs: Any,
) -> BackboneWithFPN:
    """torchvision's FPN backbone (``BackboneWithFPN``) on a timm ResNet with or without attention.

    The counterpart of torchvision's ``resnet_fpn_backbone`` for the timm names of this package
    (``resnet18_cbam``, ``resnet50_gc``, ...) and timm's own ResNets (``resnet50`` as the plain
    baseline). The ResNet's ``layer{k}`` for ``k`` in ``returned_layers`` feed the FPN; the
    result has ``out_channels`` and returns ``{'0': ..., '1': ..., 'pool': ...}`` (one map per
    returned layer at strides :data:`STAGE_STRIDES`, then the ``extra_blocks``' maps), which
    is what ``FasterRCNN``, ``MaskRCNN``, ``RetinaNet`` and ``FCOS`` take.

    Starting from weights (``weights=`` a plain ``resnet50`` checkpoint of timm or torchvision,
    or one of the same attention model) loads them with
    :func:`~convattn_plugin.models.load_backbone_weights` and freezes as torchvision does for
    its own pretrained backbones, because detection batches are too small for BatchNorm
    statistics and the early stages' features transfer as they are:

    * the ResNet's BatchNorm layers become ``FrozenBatchNorm2d`` (``frozen_bn``, default on
      with weights), fixed statistics and affine;
    * only the last ``trainable_layers`` of ``layer4, layer3, layer2, layer1, conv1`` train
      (default 3; 5 adds ``bn1``, so everything trains), the rest has ``requires_grad=False``.

    The attention modules are exempt from both, in every stage: from a plain checkpoint they
    start fresh, and frozen they would stay at their initialisation for good (a random gate on
    pretrained features in the frozen stages; non-local's zero-initialised output BatchNorm,
    frozen, keeps the block the identity forever). Their own BatchNorm layers therefore stay
    ordinary ``BatchNorm2d`` that learn their statistics, and their parameters train. Without
    weights nothing is frozen (``trainable_layers`` must then stay unset or 5).

    Args:
        backbone_name: A timm ResNet name: ``resnet{18,34,50,101,152}_{kind}`` of this package,
            or one of timm's (``resnet50``, ``resnet50d``, ...).
        weights: A checkpoint path (``.pth`` / ``.safetensors``, read with ``weights_only=True``)
            or a state dict; ``None`` for random initialisation.
        trainable_layers: How many stages (counted from ``layer4``) train; 0..5, see above.
        returned_layers: Which of ``layer1..layer4`` (1..4) feed the FPN; default all four, as
            torchvision's Faster/Mask R-CNN. RetinaNet and FCOS use ``[2, 3, 4]``.
        out_channels: Channels of every FPN output.
        extra_blocks: torchvision's extra FPN levels; default ``LastLevelMaxPool`` (the
            ``'pool'`` map); RetinaNet and FCOS use ``LastLevelP6P7(out_channels, out_channels)``.
        frozen_bn: Freeze the ResNet's BatchNorm; default: ``True`` with ``weights``, else ``False``.
        **model_kwargs: Passed to ``timm.create_model`` (``attn_stages``, ``attn_kwargs``, ...).

    Returns:
        The ``BackboneWithFPN``; its ``load_report`` attribute is the
        :class:`~convattn_plugin.models.LoadReport` of ``weights`` (``None`` without), whose
        ``missing_keys`` are exactly the fresh attention keys after a plain checkpoint.

    Raises:
        ValueError: A name that is not a timm ResNet, a checkpoint that does not cover the
            backbone (reported key by key), or an argument out of its range.
    """
    layers = _check_returned_layers(returned_layers)
    trainable = _check_trainable_layers(trainable_layers, weights is not None)
    if not isinstance(out_channels, int) or isinstance(out_channels, bool) or out_channels < 1:
        raise ValueError(f'out_channels must be a positive int, got {out_channels!r}')
    if frozen_bn is None:
        frozen_bn = weights is not None
    if not isinstance(backbone_name, str) or not timm.is_model(backbone_name):
        raise ValueError(f'{backbone_name!r} is not a timm model name; use a ResNet name such as '
                         "'resnet50_cbam' (convattn_plugin.models.list_attn_models('resnet*')) or 'resnet50'")
    model = timm.create_model(backbone_name, pretrained=False, **model_kwargs)
    if not isinstance(model, ResNet):
        raise ValueError(f'{backbone_name!r} builds a {type(model).__name__}, not a timm ResNet: '
                         'resnet_fpn_backbone takes the stages layer1..layer4 of a ResNet')

    report: Optional[LoadReport] = None
    if weights is not None:
        report = load_backbone_weights(model, weights, strict=True)

    attention = attention_types()
    attention_params = {id(p) for m in model.modules() if isinstance(m, attention) for p in m.parameters()}
    to_train = _TRAINABLE_ORDER[:trainable] + (('bn1',) if trainable == 5 else ())
    for name, p in model.named_parameters():
        if id(p) not in attention_params and not name.startswith(to_train):
            p.requires_grad_(False)
    if frozen_bn:
        _freeze_plain_batch_norm(model, attention)

    return_layers = {f'layer{k}': str(i) for i, k in enumerate(layers)}
    in_channels_list = [model.feature_info[k]['num_chs'] for k in layers]  # feature_info[0] is the stem
    backbone = BackboneWithFPN(model, return_layers, in_channels_list, out_channels, extra_blocks=extra_blocks)
    backbone.load_report = report
    return backbone
