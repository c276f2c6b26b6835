"""Attention-augmented timm models and the tools to build and initialise them.

Importing this package registers ``{backbone}_{kind}`` into timm for every backbone in
:data:`RESNET_ARCHS`, :data:`VGG_ARCHS` and :data:`MOBILENETV2_ARCHS` (:data:`FAMILIES`) and every
registered attention kind (``timm.create_model('resnet18_cbam')``, ``timm.list_models('*_cbam')``).

* :mod:`.family`: one description per backbone family and its timm registration;
  :mod:`.attn_resnet`, :mod:`.attn_vgg`, :mod:`.attn_mobilenetv2` the three families (timm's own
  ``ResNet`` / ``VGG`` / ``EfficientNet`` built as MobileNetV2), :mod:`.vgg_head` VGG's heads.
* :mod:`.attention_factory`: which stages get attention, one attention module for one position
  (errors name it), and ``ActAttn`` (activation + attention).
* :mod:`.injection`: :func:`add_attention`, any kind into any timm CNN at named positions;
  :mod:`.positions`: position patterns and the default positions of each timm family.
* :mod:`.pretrained`: whether a state dict fits a model (:class:`ArchitectureMismatchError`) and
  :func:`load_backbone_weights`, start from a plain backbone's weights.
"""
import timm

from .attention_factory import ActAttn, attention_types, build_attention, resolve_attn_stages
from .attn_mobilenetv2 import MOBILENETV2_ARCHS, MOBILENETV2_FAMILY
from .attn_resnet import RESNET_ARCHS, RESNET_FAMILY
from .attn_vgg import VGG_ARCHS, VGG_FAMILY
from .family import ModelFamily, register_family_kind
from .injection import add_attention
from .pretrained import (ArchitectureMismatchError, LoadReport, check_state_dict, diff_state_dict, load_backbone_weights,
                         load_state_dict_strict)

__all__ = [
    'MOBILENETV2_ARCHS', 'RESNET_ARCHS', 'VGG_ARCHS', 'FAMILIES', 'ActAttn', 'ArchitectureMismatchError', 'LoadReport',
    'ModelFamily', 'add_attention', 'attention_types', 'build_attention', 'check_state_dict', 'diff_state_dict',
    'list_attn_models', 'load_backbone_weights', 'load_state_dict_strict', 'register_models', 'resolve_attn_stages',
]

FAMILIES: tuple[ModelFamily, ...] = (RESNET_FAMILY, VGG_FAMILY, MOBILENETV2_FAMILY)


def register_models(kind: str) -> list[str]:
    """Register ``{backbone}_{kind}`` for every backbone, for a kind registered after import.

    Args:
        kind: A kind added with ``convattn_plugin.register_attention``.

    Returns:
        The new timm model names.
    """
    return [name for family in FAMILIES for name in register_family_kind(family, kind)]


def list_attn_models(filter: str = '') -> list[str]:
    """Names of the attention models this package registered (timm's ``list_models`` filter syntax)."""
    return timm.list_models(filter, module=[f.module.rsplit('.', 1)[-1] for f in FAMILIES])
