"""SimAM on ResNet-18/34/50/101, ResNeXt-50 (32x4d) and MobileNetV2, from the paper's authors
(github.com/ZjjConan/SimAM).

Their ``networks/imagenet/resnet.py`` is torchvision's ResNet; for SimAM each block's ``conv2``
becomes ``nn.Sequential(conv2, simam)``: the module sits after the second convolution (the 3x3
of a bottleneck, on ``width`` channels), before ``bn2`` - not after the last BN. Their ImageNet
models use ``--attention_param 0.1`` (lambda = 0.1; 1e-4 is the CIFAR value). The tags set
``attn_position='before_bn2'`` and ``e_lambda=0.1``. SimAM has no parameters: the only key change
is ``layer{i}.{j}.conv2.0.weight`` -> ``layer{i}.{j}.conv2.weight``. Their ``resnext50_32x4d`` is the
same ``Bottleneck`` with ``groups=32, width_per_group=4`` (the 3x3 conv grouped, ``width`` = 128 ..
1024): SimAM on that conv's output, lambda 0.1 (their log folder ``imagenet-resnext50_32x4d-simam-param0.1``);
our ``resnext50_32x4d_simam`` (timm's ``cardinality=32, base_width=4``) with the same key rule.

Their ``networks/imagenet/mobilenetv2.py`` is torchvision's MobileNetV2 whose depthwise
``ConvBNReLU`` becomes conv, SimAM, BN, ReLU6 in every block: our ``'after_dw'`` placement
(``conv_dw.attn``), all seven stages, lambda 0.1 (the README's ``--attention_param 0.1``). Keys:
``features.{i}.conv.{j}`` -> ``blocks.s.b.*`` (the depthwise BN is ``conv.1.2`` / ``conv.0.2``: SimAM
sits at index 1), ``features.18`` -> ``conv_head`` / ``bn2``, ``classifier.0`` -> ``classifier``.

Checkpoints: ``{'epoch', 'arch', 'state_dict', 'best_acc', 'optimizer'}`` of a ``DataParallel``
model (``module.`` keys). The repository has no licence file.
"""
from __future__ import annotations

from .houqb_mbv2 import HEAD_INDEX, mbv2_block_names
from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['simam_mbv2_to_ours', 'simam_to_ours']

REPO = 'https://github.com/ZjjConan/SimAM'
DRIVE = 'https://drive.google.com/drive/folders/1rRT0UCPeRLPdTCJvv43hvAnGnS49nIWn?usp=sharing'
RULES = ((r'(layer\d\.\d+)\.conv2\.0\.weight', r'\1.conv2.weight'),)
# arch -> (top-1, top-5) as in the authors' README (SimAM-RX50 (32x4d): 78.00 / 93.93; their log 78.000 / 93.926)
REPORTED = {'resnet18': (71.31, 89.88), 'resnet34': (74.49, 92.02), 'resnet50': (77.45, 93.66),
            'resnet101': (78.65, 94.11), 'resnext50_32x4d': (78.00, 93.93)}


def simam_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' SimAM-ResNet / -ResNeXt keys -> ``resnet*_simam`` / ``resnext50_32x4d_simam`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), RULES)


for _arch, (_top1, _top5) in REPORTED.items():
    register_published(PublishedWeights(
        model=f'{_arch}_simam', tag='zjjconan_in1k',
        model_args=dict(attn_stages=(0, 1, 2, 3), attn_position='before_bn2', attn_kwargs=dict(e_lambda=0.1)),
        convert=simam_to_ours,
        paper=('SimAM: A Simple, Parameter-Free Attention Module for Convolutional Neural Networks '
               '(Yang et al., ICML 2021)'),
        arxiv='', repo_url=REPO, license='unknown', download_url=DRIVE,
        file_name=f'imagenet-{_arch}-simam-param0.1.pth.tar', file_name_known=False,
        top1=_top1, top5=_top5, reported_in="the authors' README (github.com/ZjjConan/SimAM)",
        notes=("the authors' repository has no licence file: ask them before redistributing the weights",
               'file name: the authors share a folder (Google Drive / Baidu Pan, code teje); pass the file you '
               'downloaded with pretrained_cfg_overlay=dict(file=...)'),
    ))


def _mbv2_rules() -> list[tuple[str, str]]:
    rules = [(r'features\.0\.0\.(\w+)', r'conv_stem.\1'), (r'features\.0\.1\.(\w+)', r'bn1.\1'),
             (rf'features\.{HEAD_INDEX}\.0\.(\w+)', r'conv_head.\1'), (rf'features\.{HEAD_INDEX}\.1\.(\w+)', r'bn2.\1'),
             (r'classifier\.0\.(weight|bias)', r'classifier.\1')]
    for i, block in mbv2_block_names().items():
        if i == 1:  # no expansion: [dw conv, SimAM, BN, ReLU6], pw-linear, BN
            parts = {'0.0': 'conv_dw', '0.2': 'bn1', '1': 'conv_pw', '2': 'bn2'}
        else:  # [pw conv, BN, ReLU6], [dw conv, SimAM, BN, ReLU6], pw-linear, BN
            parts = {'0.0': 'conv_pw', '0.1': 'bn1', '1.0': 'conv_dw', '1.2': 'bn2', '2': 'conv_pwl', '3': 'bn3'}
        rules += [(rf'features\.{i}\.conv\.{j.replace(".", chr(92) + ".")}\.(\w+)', rf'{block}.{ours}.\1')
                  for j, ours in parts.items()]
    return rules


MBV2_RULES = tuple(_mbv2_rules())


def simam_mbv2_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' SimAM-MobileNetV2 keys -> ``mobilenetv2_100_simam`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), MBV2_RULES)


register_published(PublishedWeights(
    model='mobilenetv2_100_simam', tag='zjjconan_in1k',
    model_args=dict(attn_position='after_dw', attn_stages=tuple(range(7)), attn_kwargs=dict(e_lambda=0.1)),
    convert=simam_mbv2_to_ours,
    paper='SimAM: A Simple, Parameter-Free Attention Module for Convolutional Neural Networks (Yang et al., ICML 2021)',
    arxiv='', repo_url=REPO, license='unknown', download_url=DRIVE,
    file_name='imagenet-mobilenet_v2-simam-param0.1.pth.tar', file_name_known=False, top1=72.36, top5=90.74,
    reported_in="the authors' README (github.com/ZjjConan/SimAM; their log: 72.360 / 90.742)",
    notes=("the authors' repository has no licence file: ask them before redistributing the weights",
           'trained 150 epochs, cosine lr 0.05, weight decay 4e-5 (the README\'s command); SimAM between every '
           'depthwise conv and its BN; file name: the authors share a folder (Google Drive / Baidu Pan, code teje); '
           'pass the file you downloaded with pretrained_cfg_overlay=dict(file=...)'),
))
