"""SimAM on ResNet-18/34/50/101, from the paper's authors (github.com/ZjjConan/SimAM).

Their ``networks/imagenet/resnet.py`` is torchvision's ResNet; for SimAM each block's ``conv2``
becomes ``nn.Sequential(conv2, simam)``: the module sits after the second convolution (the 3x3
of a bottleneck, on ``width`` channels), before ``bn2`` - not after the last BN. Their ImageNet
models use ``--attention_param 0.1`` (lambda = 0.1; 1e-4 is the CIFAR value). The tags set
``attn_position='before_bn2'`` and ``e_lambda=0.1``. SimAM has no parameters: the only key change
is ``layer{i}.{j}.conv2.0.weight`` -> ``layer{i}.{j}.conv2.weight``.

Checkpoints: ``{'epoch', 'arch', 'state_dict', 'best_acc', 'optimizer'}`` of a ``DataParallel``
model (``module.`` keys). The repository has no licence file.
"""
from __future__ import annotations

from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['simam_to_ours']

REPO = 'https://github.com/ZjjConan/SimAM'
DRIVE = 'https://drive.google.com/drive/folders/1rRT0UCPeRLPdTCJvv43hvAnGnS49nIWn?usp=sharing'
RULES = ((r'(layer\d\.\d+)\.conv2\.0\.weight', r'\1.conv2.weight'),)
# depth -> (top-1, top-5) as in the authors' README
REPORTED = {18: (71.31, 89.88), 34: (74.49, 92.02), 50: (77.45, 93.66), 101: (78.65, 94.11)}


def simam_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' SimAM-ResNet keys -> ``resnet*_simam`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), RULES)


for _depth, (_top1, _top5) in REPORTED.items():
    register_published(PublishedWeights(
        model=f'resnet{_depth}_simam', tag='zjjconan_in1k',
        model_args=dict(attn_stages=(0, 1, 2, 3), attn_position='before_bn2', attn_kwargs=dict(e_lambda=0.1)),
        convert=simam_to_ours,
        paper=('SimAM: A Simple, Parameter-Free Attention Module for Convolutional Neural Networks '
               '(Yang et al., ICML 2021)'),
        arxiv='', repo_url=REPO, license='unknown', download_url=DRIVE,
        file_name=f'imagenet-resnet{_depth}-simam-param0.1.pth.tar', file_name_known=False,
        top1=_top1, top5=_top5, reported_in="the authors' README (github.com/ZjjConan/SimAM)",
        notes=("the authors' repository has no licence file: ask them before redistributing the weights",
               'file name: the authors share a folder (Google Drive / Baidu Pan, code teje); pass the file you '
               'downloaded with pretrained_cfg_overlay=dict(file=...)'),
    ))
