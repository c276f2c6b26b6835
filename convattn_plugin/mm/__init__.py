"""OpenMMLab adapter: ``custom_imports = dict(imports=['convattn_plugin.mm'])``.

Importing this package

- lets ``torch.load(weights_only=True)`` read mmengine training checkpoints
  (:mod:`.checkpoint_compat`: ``--resume``, ``load_from``, ``Pretrained`` on torch >= 2.6);
- registers into mmengine's root ``MODELS`` (found from the mmpretrain, mmdet and
  mmseg scopes): every attention kind as ``ConvAttn<Kind>`` (``ConvAttnEca``; :mod:`.layers`), the
  backbones ``ConvAttnResNet``, ``ConvAttnVGG`` and the preset builder
  ``ConvAttnBackbone(arch='resnet18_cbam')`` (:mod:`.presets`);
- registers ``EpochSeedHook`` into mmengine's root ``HOOKS``;
- when mmpretrain is installed: the ``SklearnDigits`` dataset in mmpretrain's
  ``DATASETS``, the ``LoadImageUnlessGiven`` transform in its ``TRANSFORMS`` and the
  project's configs in mmpretrain's model hub.

Importing it twice, or after ``import convattn_plugin``, is harmless. ``import
convattn_plugin`` alone does not import this package (timm users never load OpenMMLab).

mmcv: the ``mm`` extra asks for ``mmcv-lite``, the pure-Python build, because the full
``mmcv`` needs a CUDA compile. Both distributions install the same ``mmcv`` import
package into the same folder; pip treats them as unrelated, so installing one after the
other silently overwrites the first one's files, and uninstalling either deletes files
the other needs. Users of a compiled mmcv (mmdet, mmseg) install the ``mm-base`` extra
instead, which is the ``mm`` extra without any mmcv. mmcv-lite has no ``mmcv.ops``, so
``mmcv.cnn.bricks.transformer`` warns on import that ``MultiScaleDeformableAttention`` is
missing; mmpretrain's classifiers never use it, and the warning is silenced here (that
exact message only).
"""
import warnings

# Must precede the first import of mmpretrain/mmcv.cnn (below): the warning fires once, on import.
warnings.filterwarnings('ignore', message=r'Fail to import ``MultiScaleDeformableAttention``',
                        category=UserWarning, module=r'mmcv\.cnn\.bricks\.transformer')

from .checkpoint_compat import allow_mmengine_checkpoints  # noqa: E402

allow_mmengine_checkpoints()

from mmengine.registry import MODELS as _MODELS  # noqa: E402

from .. import models as _timm_models  # noqa: E402,F401  (registers {arch}_{kind} into timm)
from .backbones import ConvAttnResNet, ConvAttnVGG, timm_model_name  # noqa: E402
from .hooks import EpochSeedHook  # noqa: E402
from .layers import MM_LAYER_PREFIX, mm_layer_name, mm_layer_names, register_attention_layers  # noqa: E402
from .presets import ConvAttnBackbone, list_presets, parse_preset  # noqa: E402


def _register_backbones() -> None:
    for name, obj in (('ConvAttnResNet', ConvAttnResNet), ('ConvAttnVGG', ConvAttnVGG),
                      ('ConvAttnBackbone', ConvAttnBackbone)):
        existing = _MODELS.module_dict.get(name)
        if existing is not None and not getattr(existing, '__module__', '').startswith(__name__):
            raise KeyError(f'{name} is already registered in mmengine MODELS by {existing!r}')
        _MODELS.register_module(name=name, module=obj, force=True)


register_attention_layers()
_register_backbones()

try:
    import mmpretrain as _mmpretrain  # noqa: F401
except ImportError:  # mmengine-only use (mmdet / mmseg without mmpretrain)
    HAS_MMPRETRAIN = False
else:
    HAS_MMPRETRAIN = True
    from .datasets import SklearnDigits, digits_split  # noqa: F401
    from .fashion_mnist import FashionMNISTFolder  # noqa: F401
    from .transforms import LoadImageUnlessGiven  # noqa: F401
    from .hub import register_model_index

    register_model_index()

__all__ = [
    'ConvAttnResNet', 'ConvAttnVGG', 'ConvAttnBackbone', 'EpochSeedHook', 'MM_LAYER_PREFIX',
    'allow_mmengine_checkpoints', 'list_presets', 'mm_layer_name', 'mm_layer_names', 'parse_preset',
    'register_attention_layers', 'timm_model_name', 'HAS_MMPRETRAIN',
]
