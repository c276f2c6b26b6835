"""The authors' published ImageNet weights, loaded unchanged into our models.

Each source has one file with its key conversion and its tags (:mod:`.jongchan` CBAM/BAM,
:mod:`.bangguwu` ECA, :mod:`.zjjconan` SimAM, :mod:`.landskape` Triplet, :mod:`.timm_se`
SE); :mod:`.registry` holds them, :mod:`.timm_cfgs` makes them timm pretrained tags::

    model = timm.create_model('resnet50_cbam.jongchan_in1k', pretrained=True,
                              pretrained_cfg_overlay=dict(file='RESNET50_CBAM_new_name_wrap.pth'))

The tag builds the authors' architecture (its model arguments are fixed); the file is read
with ``weights_only=True`` and converted by the tag's ``pretrained_filter_fn``.
"""
from . import bangguwu, jongchan, landskape, timm_se, zjjconan  # noqa: F401  (fill the registry)
from . import bangguwu_mbv2, houqb_mbv2  # noqa: F401  (MobileNetV2 tags)
from . import implus, wofmanaf  # noqa: F401  (SGE / SK-ResNet*, SA-ResNet tags)
from . import cfzd  # noqa: F401  (FcaNet tags)
from . import yoloonme  # noqa: F401  (EMA-MobileNetV2 tag)
from .key_rules import unwrap_checkpoint
from .registry import PUBLISHED, PublishedWeights, get_published, list_published, register_published
from .timm_cfgs import (check_converted, published_cfg, published_cfgs,
                        published_filter_fn, published_model_kwargs)

__all__ = [
    'PUBLISHED', 'PublishedWeights', 'check_converted', 'get_published',
    'list_published', 'published_cfg', 'published_cfgs', 'published_filter_fn', 'published_model_kwargs',
    'register_published', 'unwrap_checkpoint',
]
