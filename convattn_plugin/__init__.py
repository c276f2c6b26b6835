"""Convolutional attention for timm and OpenMMLab.

``import convattn_plugin`` registers every attention-augmented model into timm
(``timm.create_model('resnet18_cbam')``) and does nothing else: it never imports
mmengine or mmpretrain. The attention layers themselves live in
:mod:`convattn_plugin.layers` and need only torch.

The OpenMMLab side (backbones and layers in mmengine's registries, the ``SklearnDigits``
data set, the configs in mmpretrain's model hub) is registered by importing
:mod:`convattn_plugin.mm`, either in a config::

    custom_imports = dict(imports=['convattn_plugin.mm'], allow_failed_imports=False)

(the project's configs carry it in ``configs/_base_/default_runtime.py``) or in code::

    import convattn_plugin.mm
    import mmpretrain
    mmpretrain.list_models('*cbam*')
    model = mmpretrain.get_model('resnet18-cbam_1xb32_digits')
"""
from .layers import create_attn, list_attentions, register_attention
from . import models  # registers the timm models

__version__ = '0.1.0'
__all__ = ['create_attn', 'list_attentions', 'register_attention', '__version__']
