"""Triplet attention on ResNet-18/50 and MobileNetV2, from its authors (github.com/landskape-ai/triplet-attention).

Their ``MODELS/resnet.py`` is the plain-stem ResNet of the CBAM code with ``triplet_attention``
in every block after the last BN, before the addition (our default placement). The module has
three Z-pool gates, each ``[max; mean]`` -> k x k conv (no bias) -> BN (momentum 0.01, eps 1e-5)
-> sigmoid: ``ChannelGateH`` on the (N, H, C, W) rotation (our ``gate_cw``), ``ChannelGateW`` on
the (N, W, H, C) rotation (``gate_hc``) and ``SpatialGate`` on the input (``gate_hw``); the three
results are averaged. They publish k = 7 and k = 3 for ResNet-50 and ResNet-18 (BasicBlocks: the
module on ``planes`` channels after ``bn2``, the same place).

Their ``MODELS/mobilenet.py`` (``TripletAttention_MobileNetV2``) is torchvision's MobileNetV2 layout
with ``TripletAttention(oup)`` appended to every block's ``conv`` after the pointwise-linear BN, the
layout of ECA's ``eca_mobilenetv2.py`` (:mod:`.bangguwu_mbv2`): our ``'block_end'`` placement
(``bn3.act.attn``; ``bn2.act.attn`` in the first block) in all seven stages. The README publishes
k = 3 and k = 7 files; the code hard-codes 7, so the file's kernels are the tag's (another kernel is
refused by shape).

Checkpoints: ``{'epoch', 'arch', 'state_dict', 'best_prec1', 'optimizer'}`` of a ``DataParallel``
model (``module.`` keys); ``scripts/train_imagenet_mobilenetv2_triplet_attention.sh`` trains the
MobileNetV2 with the same ``train_imagenet.py``.
"""
from __future__ import annotations

from .bangguwu_mbv2 import RULES as APPENDED_MODULE_RULES  # torchvision's MobileNetV2 + a module after the last BN
from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['triplet_mbv2_to_ours', 'triplet_to_ours']

REPO = 'https://github.com/landskape-ai/triplet-attention'
GATES = {'ChannelGateH': 'gate_cw', 'ChannelGateW': 'gate_hc', 'SpatialGate': 'gate_hw'}
RULES = tuple((rf'(layer\d\.\d+)\.triplet_attention\.{theirs}\.spatial\.(conv|bn)\.(\w+)', rf'\1.se.{ours}.\2.\3')
              for theirs, ours in GATES.items())


MBV2_GATE_RULES = tuple((rf'(.+\.act\.attn)\.{theirs}\.spatial\.(conv|bn)\.(\w+)', rf'\1.{ours}.\2.\3')
                        for theirs, ours in GATES.items())


def triplet_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' ResNet+Triplet keys -> ``resnet*_triplet`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), RULES)


def triplet_mbv2_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' ``TripletAttention_MobileNetV2`` keys -> ``mobilenetv2_100_triplet`` keys."""
    return rename_keys(rename_keys(unwrap_checkpoint(state_dict), APPENDED_MODULE_RULES), MBV2_GATE_RULES)


# (depth, tag) -> (kernel size, top-1, top-5, Google Drive path); the README reports errors, 100 - error here.
PUBLISHED_FILES = {
    (50, 'landskape_in1k'): (7, 77.48, 93.674, 'open?id=1ptKswHzVmULGbE3DuX6vMCjEbqwUvGiG'),
    (50, 'landskape_k3_in1k'): (3, 76.12, 93.062, 'open?id=1W6aDE6wVNY9NwgcM7WMx_vRhG2-ZiMur'),
    (18, 'landskape_in1k'): (7, 71.09, 89.99, 'file/d/1jIDfA0Psce10L06hU0Rtz8t7s2U1oqLH/view'),
    (18, 'landskape_k3_in1k'): (3, 70.33, 89.58, 'file/d/1p3_s2kA5NFWqCtp4zvZdc91_2kEQhbGD/view'),
}

for (_depth, _tag), (_k, _top1, _top5, _drive) in PUBLISHED_FILES.items():
    register_published(PublishedWeights(
        model=f'resnet{_depth}_triplet', tag=_tag,
        model_args=dict(attn_stages=(0, 1, 2, 3), attn_position='block', attn_kwargs=dict(
            kernel_size=_k, pool_order='max_mean', bn_momentum=0.01, bn_eps=1e-5)),
        convert=triplet_to_ours,
        paper='Rotate to Attend: Convolutional Triplet Attention Module (Misra et al., WACV 2021)',
        arxiv='2010.03045', repo_url=REPO, license='mit',
        download_url=f'https://drive.google.com/{_drive}',
        file_name=f'resnet{_depth}_triplet_attention_k{_k}.pth.tar', file_name_known=False, top1=_top1, top5=_top5,
        reported_in="the authors' README (github.com/landskape-ai/triplet-attention), as 100 - top-1 error",
        notes=(f'kernel size {_k}; the file name on Google Drive is the authors\' choice: pass your download with '
               'pretrained_cfg_overlay=dict(file=...)',),
    ))

# tag -> (kernel size, top-1, top-5, Google Drive id), 100 - the README's errors.
MBV2_FILES = {
    'landskape_in1k': (7, 71.99, 90.484, '14iNMa7ygtTwsULsAydKoQuTkJ288hfKs'),
    'landskape_k3_in1k': (3, 72.62, 90.77, '1KIlqPBNLHh4qkdxyojb5gQhM5iB9b61_'),
}

for _tag, (_k, _top1, _top5, _drive) in MBV2_FILES.items():
    register_published(PublishedWeights(
        model='mobilenetv2_100_triplet', tag=_tag,
        model_args=dict(attn_position='block_end', attn_stages=tuple(range(7)), attn_kwargs=dict(
            kernel_size=_k, pool_order='max_mean', bn_momentum=0.01, bn_eps=1e-5)),
        convert=triplet_mbv2_to_ours,
        paper='Rotate to Attend: Convolutional Triplet Attention Module (Misra et al., WACV 2021)',
        arxiv='2010.03045', repo_url=REPO, license='mit',
        download_url=f'https://drive.google.com/file/d/{_drive}/view',
        file_name=f'mobilenetv2_triplet_attention_k{_k}.pth.tar', file_name_known=False, top1=_top1, top5=_top5,
        reported_in="the authors' README (github.com/landskape-ai/triplet-attention), as 100 - top-1 error",
        notes=(f'kernel size {_k}, after the last BN of every block (all seven stages); the file name on Google '
               "Drive is the authors' choice: pass your download with pretrained_cfg_overlay=dict(file=...)",),
    ))
