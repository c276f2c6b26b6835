"""Shuffle attention on ResNet-50/101, from the paper's authors (github.com/wofmanaf/SA-Net).

Their ``models/sa_resnet.py`` is torchvision's plain-stem ResNet whose bottleneck has
``sa = sa_layer(planes * 4)`` (64 groups) on ``bn3``'s output, before the addition: the ``se``
slot (``attn_position='block'``). ``sa_layer`` holds ``cweight`` / ``cbias`` / ``sweight`` /
``sbias`` of shape ``(1, C / 128, 1, 1)`` and ``gn = GroupNorm(C / 128, C / 128)``, named as
our :class:`~convattn_plugin.layers.ShuffleAttention`'s: keys ``layer{i}.{j}.sa.*`` -> ``...se.*``.

Checkpoints: their ``main.py`` (the PyTorch ImageNet example) saves ``{'epoch', 'state_dict',
'best_acc', 'optimizer'}`` of a ``DataParallel`` model (``module.`` keys) and evaluates with
``--resume /path/to/sa_resnet50.pth.tar``. The files are on Baidu Pan only. The repository has
no licence file.
"""
from __future__ import annotations

from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['sa_to_ours']

REPO = 'https://github.com/wofmanaf/SA-Net'
RULES = ((r'(layer\d\.\d+)\.sa\.(cweight|cbias|sweight|sbias|gn\.weight|gn\.bias)', r'\1.se.\2'),)
# depth -> (top-1, top-5, Baidu Pan link, extraction code), the authors' README; its evaluation
# example prints ResNet-50's top-5, none is given for ResNet-101
REPORTED = {
    50: (77.88, 93.892, 'https://pan.baidu.com/s/1-TEXeMjprUDyx013l3vZIQ', '474p'),
    101: (78.95, None, 'https://pan.baidu.com/s/16L0enJxKMd9LJ8B4dbGmtw', '6nxm'),
}


def sa_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' SA-ResNet keys -> ``resnet*_shuffle`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), RULES)


for _depth, (_top1, _top5, _baidu, _code) in REPORTED.items():
    register_published(PublishedWeights(
        model=f'resnet{_depth}_shuffle', tag='wofmanaf_in1k',
        model_args=dict(attn_stages=(0, 1, 2, 3), attn_position='block', attn_kwargs=dict(groups=64)),
        convert=sa_to_ours,
        paper='SA-Net: Shuffle Attention for Deep Convolutional Neural Networks (Zhang and Yang, ICASSP 2021)',
        arxiv='2102.00240', repo_url=REPO, license='unknown', download_url=_baidu,
        file_name=f'sa_resnet{_depth}.pth.tar', file_name_known=False,
        top1=_top1, top5=_top5, reported_in="the authors' README (github.com/wofmanaf/SA-Net)",
        notes=(f'Baidu Pan extraction code {_code}; the file name there is the authors\' choice: pass your download '
               'with pretrained_cfg_overlay=dict(file=...)',
               "the authors' repository has no licence file: ask them before redistributing the weights"),
    ))
