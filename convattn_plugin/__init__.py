"""Convolutional attention for timm and OpenMMLab.

``import convattn_plugin`` registers every attention-augmented model into timm
(``timm.create_model('resnet18_cbam')``). The attention layers themselves live in
:mod:`convattn_plugin.layers` and need only torch.
"""
from .layers import create_attn, list_attentions, register_attention
from . import models  # registers the timm models

__version__ = '0.1.0'
__all__ = ['create_attn', 'list_attentions', 'register_attention', '__version__']

from ._mm_autoload import install as _install_mm_autoload

_install_mm_autoload()  # imports convattn_plugin.mm right after `import mmpretrain`, never before
