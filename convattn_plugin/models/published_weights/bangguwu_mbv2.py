"""ECA on MobileNetV2, from the paper's authors (github.com/BangguWu/ECANet, ``models/eca_mobilenetv2.py``).

torchvision's MobileNetV2 layout with ``eca_layer(oup, k)`` appended to every block's ``conv``
Sequential: after the pointwise-linear BN, before the residual addition (our ``'block_end'``:
``bn3.act.attn``; ``bn2.act.attn`` in the first block). ``k = 1`` for blocks narrower than 96
channels (stages 0-3), 3 otherwise (the file name's ``k13``). Trained with ``light_main.py`` (the
PyTorch ImageNet example): ``{'epoch', 'arch', 'state_dict', 'best_prec1', 'optimizer'}`` of a
``DataParallel`` model (``module.`` keys).
"""
from __future__ import annotations

from .houqb_mbv2 import HEAD_INDEX, mbv2_block_names
from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['ECA_MBV2_KERNELS', 'eca_mbv2_to_ours']

REPO = 'https://github.com/BangguWu/ECANet'
ECA_MBV2_KERNELS = (1, 1, 1, 1, 3, 3, 3)


def _rules() -> list[tuple[str, str]]:
    rules = [(r'features\.0\.0\.(\w+)', r'conv_stem.\1'), (r'features\.0\.1\.(\w+)', r'bn1.\1'),
             (rf'features\.{HEAD_INDEX}\.0\.(\w+)', r'conv_head.\1'), (rf'features\.{HEAD_INDEX}\.1\.(\w+)', r'bn2.\1'),
             (r'classifier\.1\.(weight|bias)', r'classifier.\1')]
    for i, block in mbv2_block_names().items():
        if i == 1:
            parts = {'0.0': 'conv_dw', '0.1': 'bn1', '1': 'conv_pw', '2': 'bn2', '3': 'bn2.act.attn'}
        else:
            parts = {'0.0': 'conv_pw', '0.1': 'bn1', '1.0': 'conv_dw', '1.1': 'bn2', '2': 'conv_pwl', '3': 'bn3',
                     '4': 'bn3.act.attn'}
        rules += [(rf'features\.{i}\.conv\.{j.replace(".", chr(92) + ".")}\.(.+)', rf'{block}.{ours}.\1')
                  for j, ours in parts.items()]
    return rules


RULES = tuple(_rules())


def eca_mbv2_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' ECA-MobileNetV2 keys -> ``mobilenetv2_100_eca`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), RULES)


register_published(PublishedWeights(
    model='mobilenetv2_100_eca', tag='bangguwu_in1k',
    model_args=dict(attn_position='block_end', attn_stages=tuple(range(7)),
                    attn_stage_kwargs=[dict(kernel_size=k) for k in ECA_MBV2_KERNELS]),
    convert=eca_mbv2_to_ours,
    paper='ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks (Wang et al., CVPR 2020)',
    arxiv='1910.03151', repo_url=REPO, license='mit',
    download_url='https://drive.google.com/open?id=1FxzeXPg1SJQZzVVH4HRjMeq_SVMfidUm',
    file_name='eca_mobilenetv2_k13.pth.tar', file_name_known=False, top1=72.56, top5=90.81,
    reported_in="the authors' README (github.com/BangguWu/ECANet)",
    notes=('kernel size 1 in stages 0-3, 3 in stages 4-6 (k13); also on Baidu Pan (code atpt)',),
))
