"""Attention-augmented timm models and the tools to build and initialise them.

Importing this package registers ``{backbone}_{kind}`` into timm for every backbone in
:data:`RESNET_ARCHS` and :data:`VGG_ARCHS` and every registered attention kind
(``timm.create_model('resnet18_cbam')``, ``timm.list_models('*_cbam')``).

* :mod:`.attn_resnet`, :mod:`.attn_vgg`: the two families (timm's own ``ResNet`` / ``VGG``).
* :func:`add_attention`: any kind into any timm CNN at named positions.
* :func:`load_backbone_weights`: start from a plain backbone's weights.
"""
import timm

from .attn_resnet import RESNET_ARCHS, register_resnet_kind
from .attn_vgg import VGG_ARCHS, register_vgg_kind
from .inject import ActAttn, add_attention
from .pretrained import LoadReport, load_backbone_weights

__all__ = [
    'RESNET_ARCHS', 'VGG_ARCHS', 'ActAttn', 'LoadReport', 'add_attention', 'load_backbone_weights',
    'register_models', 'list_attn_models',
]


def register_models(kind: str) -> list[str]:
    """Register ``{backbone}_{kind}`` for every backbone, for a kind registered after import.

    Args:
        kind: A kind added with ``convattn_plugin.register_attention``.

    Returns:
        The new timm model names.
    """
    return register_resnet_kind(kind) + register_vgg_kind(kind)


def list_attn_models(filter: str = '') -> list[str]:
    """Names of the attention models this package registered (timm's ``list_models`` filter syntax)."""
    return timm.list_models(filter, module=['attn_resnet', 'attn_vgg'])
