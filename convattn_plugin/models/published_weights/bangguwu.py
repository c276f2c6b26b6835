"""ECA on ResNet-18/34/50/101/152, from the paper's authors (github.com/BangguWu/ECANet).

Their ``models/eca_resnet.py`` is torchvision's plain-stem ResNet with ``eca`` in every block
after the last BN, before the addition (our default placement): ``AdaptiveAvgPool2d(1)``,
``Conv1d(1, 1, k, padding=(k - 1) // 2, bias=False)`` across channels, sigmoid. The kernel
size is fixed per stage (``k_size=[k1, k2, k3, k4]``, ``--ksize 3557``), not by the paper's
adaptive rule; the released files name it (``eca_resnet50_k3557``), so each tag sets
``attn_stage_kwargs`` to those sizes. Keys ``layer{i}.{j}.eca.conv.weight`` -> ``...se.conv.weight``.

Checkpoints: the PyTorch ImageNet example's ``{'epoch', 'arch', 'state_dict', 'best_prec1',
'optimizer'}`` of a ``DataParallel`` model (``module.`` keys).

Their ``eca_resnet18`` builder passes ``[3, 3, 3, 3]`` whatever ``k_size`` says, while the
ResNet-18 file is named ``k3577``; the tag follows the file's name. A file with other kernel
sizes is refused with the keys and shapes that differ.
"""
from __future__ import annotations

from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['ECA_KERNEL_SIZES', 'eca_to_ours']

REPO = 'https://github.com/BangguWu/ECANet'
RULES = ((r'(layer\d\.\d+)\.eca\.conv\.weight', r'\1.se.conv.weight'),)

# depth -> (kernel sizes of stages 0..3 as in the file name, top-1, top-5, Google Drive id)
ECA_KERNEL_SIZES = {
    18: ((3, 5, 7, 7), 70.92, 89.93, '1LMRFRTyzVifGBi2MUpTuYEWW44S8mwyl'),
    34: ((3, 3, 5, 7), 74.21, 91.83, '15LV5Jkea3GPzvLP5__H7Gg88oNQUxBDE'),
    50: ((3, 5, 5, 7), 77.42, 93.62, '1670rce333c_lyMWFzBlNZoVUvtxbCF_U'),
    101: ((3, 3, 5, 7), 78.65, 94.34, '1b5FQ8yDFnZ_UhvWT9txmjI_LjbKkgnvC'),
    152: ((3, 3, 5, 7), 78.92, 94.55, '1_bYnaOg9ptsILC_iC7uQ5Izv-u2rjYG5'),
}


def eca_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' ECA-ResNet keys -> ``resnet*_eca`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), RULES)


for _depth, (_ks, _top1, _top5, _drive) in ECA_KERNEL_SIZES.items():
    register_published(PublishedWeights(
        model=f'resnet{_depth}_eca', tag='bangguwu_in1k',
        model_args=dict(attn_stages=(0, 1, 2, 3), attn_position='block',
                        attn_stage_kwargs=[dict(kernel_size=k) for k in _ks]),
        convert=eca_to_ours,
        paper='ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks (Wang et al., CVPR 2020)',
        arxiv='1910.03151', repo_url=REPO, license='mit',
        download_url=f'https://drive.google.com/open?id={_drive}',
        file_name=f'eca_resnet{_depth}_k{"".join(map(str, _ks))}.pth.tar',
        top1=_top1, top5=_top5, reported_in="the authors' README (github.com/BangguWu/ECANet)",
        notes=(f'kernel sizes per stage {_ks}, as the file name says; the authors also publish it on Baidu Pan',),
    ))
