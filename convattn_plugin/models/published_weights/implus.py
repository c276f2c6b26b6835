"""SGE and SK on ResNet-50/101, from the papers' first author's library (github.com/implus/PytorchInsight).

Both ``classification/models/imagenet/resnet_sge.py`` and ``resnet_sk.py`` are torchvision's
plain-stem ResNet (stride on the 3x3 conv, ResNet's widths) with one change per bottleneck:

* SGE-ResNet: ``sge = SpatialGroupEnhance(64)`` on ``bn3``'s output, before the addition (the
  ``se`` slot, ``attn_position='block'``); ``layer{i}.{j}.sge.{weight,bias}`` -> ``...se.*``.
* SK-ResNet* (the README's star: "a modified version [...] for more fair comparison with ResNet",
  not the SKNet-50 of the paper, whose Caffe models implus/SKNet has): the 3x3 conv + BN + ReLU
  becomes two 3x3 branches at the block's stride, ``conv2`` / ``bn2`` (plain) and ``conv2g`` /
  ``bn2g`` (32 groups), no dilation; fuse ``conv_fc1`` (``planes // 16``, no bias) + ``bn_fc1`` +
  ReLU, select ``conv_fc2``, softmax over the two. Our SK unit in place of ``conv2``
  (``attn_position='conv2'``) with ``dilations=(1, 1)``, ``groups=(1, 32)``, ``min_rd_channels=1``.

Checkpoints: their ``imagenet.py`` / ``imagenet_fast.py`` save ``{'epoch', 'state_dict', 'acc',
'best_acc', 'optimizer'}`` of a ``DataParallel`` / apex ``DistributedDataParallel`` model
(``module.`` keys), and test with ``-e --resume ../pretrain/sge_resnet101.pth.tar``. The
repository has no licence file.
"""
from __future__ import annotations

from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['sge_to_ours', 'sk_to_ours']

REPO = 'https://github.com/implus/PytorchInsight'
SGE_RULES = ((r'(layer\d\.\d+)\.sge\.(weight|bias)', r'\1.se.\2'),)
_SK_BRANCH = r'(layer\d\.\d+)\.'
SK_RULES = (
    (_SK_BRANCH + r'conv2\.weight', r'\1.conv2.paths.0.conv.weight'),
    (_SK_BRANCH + r'bn2\.(\w+)', r'\1.conv2.paths.0.bn.\2'),
    (_SK_BRANCH + r'conv2g\.weight', r'\1.conv2.paths.1.conv.weight'),
    (_SK_BRANCH + r'bn2g\.(\w+)', r'\1.conv2.paths.1.bn.\2'),
    (_SK_BRANCH + r'conv_fc1\.weight', r'\1.conv2.attn.fc_reduce.weight'),
    (_SK_BRANCH + r'bn_fc1\.(\w+)', r'\1.conv2.attn.bn.\2'),
    (_SK_BRANCH + r'conv_fc2\.weight', r'\1.conv2.attn.fc_select.weight'),
)
SK_OPTIONS = dict(dilations=(1, 1), groups=(1, 32), reduction=16, min_rd_channels=1)


def sge_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' SGE-ResNet keys -> ``resnet*_sge`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), SGE_RULES)


def sk_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' SK-ResNet* keys -> ``resnet*_sk`` keys (the unit in place of ``conv2``)."""
    return rename_keys(unwrap_checkpoint(state_dict), SK_RULES)


_PAPERS = {
    'sge': ('Spatial Group-wise Enhance: Improving Semantic Feature Learning in Convolutional Networks '
            '(Li, Hu, Yang, 2019)', '1905.09646'),
    'sk': ('Selective Kernel Networks (Li, Wang, Hu, Yang, CVPR 2019)', '1903.06586'),
}
_ARGS = {
    'sge': dict(attn_stages=(0, 1, 2, 3), attn_position='block', attn_kwargs=dict(groups=64)),
    'sk': dict(attn_stages=(0, 1, 2, 3), attn_position='conv2', attn_kwargs=SK_OPTIONS),
}
_NOTES = {
    'sge': ('SGE with 64 groups after bn3 of every bottleneck, as resnet_sge.py',),
    'sk': ("the README's SK-ResNet*, a ResNet with a two-branch SK unit (3x3 plain + 3x3 with 32 groups, no "
           "dilation, fuse width planes // 16) in place of each 3x3 conv; not the paper's SKNet-50 (ResNeXt, "
           '3x3 + dilated 3x3), whose weights are Caffe models',),
}
# (kind, depth) -> (top-1, top-5, Google Drive link, Baidu Pan link, its extraction code), the README's table
REPORTED = {
    ('sge', 50): (77.584, 93.664, 'https://drive.google.com/open?id=13HPCjrEle6aFbiCo8Afkr2jJssdNwdRn',
                  'https://pan.baidu.com/s/11bb2XBGkTqIoOunaSXOOTg', 'gxo9'),
    ('sge', 101): (78.798, 94.368, 'https://drive.google.com/file/d/1ihu0NVvVJZEv0zj49izapn4V0FhwxCh6/view?usp=sharing',
                   'https://pan.baidu.com/s/1X_qZbmC1G2qqdzbIx6C0cQ', 'wqn6'),
    ('sk', 50): (77.538, 93.700, 'https://drive.google.com/file/d/1DGYWPeKc7dyJ9i-zPJcPPa2engExPOnJ/view?usp=sharing',
                 'https://pan.baidu.com/s/1Lx5CNUeRQXOSWjzTlcO2HQ', 'tfwn'),
    ('sk', 101): (78.792, 94.268, 'https://drive.google.com/file/d/1WB7HXx-cvUIxFRe-M61XZIzUN0a3nsbF/view?usp=sharing',
                  'https://pan.baidu.com/s/1O1giKnrp3MVXZnlrndv8rg', 'boii'),
}

for (_kind, _depth), (_top1, _top5, _drive, _baidu, _code) in REPORTED.items():
    register_published(PublishedWeights(
        model=f'resnet{_depth}_{_kind}', tag='implus_in1k',
        model_args=_ARGS[_kind],
        convert=sge_to_ours if _kind == 'sge' else sk_to_ours,
        paper=_PAPERS[_kind][0], arxiv=_PAPERS[_kind][1], repo_url=REPO, license='unknown', download_url=_drive,
        file_name=f'{_kind}_resnet{_depth}.pth.tar', file_name_known=False,
        top1=_top1, top5=_top5, reported_in="the authors' README (github.com/implus/PytorchInsight)",
        notes=(*_NOTES[_kind],
               "the authors' repository has no licence file: ask them before redistributing the weights",
               f'also on Baidu Pan: {_baidu} (code {_code}); the file name on the drives is the authors\' choice '
               "(their README's test command reads ../pretrain/sge_resnet101.pth.tar): pass your download with "
               'pretrained_cfg_overlay=dict(file=...)'),
    ))
