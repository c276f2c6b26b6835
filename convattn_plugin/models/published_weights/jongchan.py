"""CBAM and BAM on ResNet-50, from the papers' authors (github.com/Jongchan/attention-module).

Their ``MODELS/model_resnet.py`` is a plain-stem ResNet (torchvision's layout of ``conv1``,
``bn1``, ``layer1..4``, ``fc``) with:

* CBAM in every block (``layer{i}.{j}.cbam``) after the last BN, before the addition, as
  in our ``resnet50_cbam``: ``ChannelGate.mlp`` = ``Flatten, Linear(C, C // 16), ReLU,
  Linear(C // 16, C)`` with biases on the average- and max-pooled descriptors, then
  ``SpatialGate.spatial`` = 7x7 conv (no bias) + BN (momentum 0.01, eps 1e-5) on
  ``[max_c; mean_c]``. Hence the tag's options ``mlp_bias=True``, ``pool_order='max_mean'``,
  ``bn_momentum=0.01``, ``rd_rounding='floor'``.
* BAM between stages (``bam1..3`` on the outputs of ``layer1..3``), the authors' form:
  ``1 + sigmoid(Mc * Ms)``, ``Mc`` = ``Linear, BatchNorm1d, ReLU, Linear`` on the average-pooled
  descriptor, ``Ms`` = 1x1 reduce, two 3x3 convs with dilation 4, each with BN and ReLU, and a
  1x1 projection, all convs with bias. Our ``form='official'`` with ``attn_position='stage_end'``
  on stages 0..2 (``layer{i}.attn``).

Checkpoints: ``torch.save({'epoch', 'arch', 'state_dict', 'best_prec1', 'optimizer'})`` of a
``DataParallel`` model (``module.`` keys), written by PyTorch 0.4. The authors' README links them
on Google Drive (since 2022; first on Dropbox, whose links named the files as ``file_name`` here).
"""
from __future__ import annotations

from .key_rules import linear_to_conv, rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['bam_to_ours', 'cbam_to_ours']

REPO = 'https://github.com/Jongchan/attention-module'

CBAM_RULES = (
    (r'(layer\d\.\d+)\.cbam\.ChannelGate\.mlp\.1\.(weight|bias)', r'\1.se.fc1.\2'),
    (r'(layer\d\.\d+)\.cbam\.ChannelGate\.mlp\.3\.(weight|bias)', r'\1.se.fc2.\2'),
    (r'(layer\d\.\d+)\.cbam\.SpatialGate\.spatial\.(conv|bn)\.(\w+)', r'\1.se.spatial.\2.\3'),
)


def cbam_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' ResNet+CBAM keys -> ``resnet*_cbam`` keys (MLP ``Linear`` -> 1x1 conv)."""
    out = rename_keys(unwrap_checkpoint(state_dict), CBAM_RULES)
    return linear_to_conv(out, r'layer\d\.\d+\.se\.fc[12]\.weight')


def _bam_rules(num_dilated_convs: int = 2) -> list[tuple[str, str]]:
    # Our official form: channel_branch = [conv, bn, relu, conv]; spatial_branch = [conv, bn, relu]
    # per hidden layer (reduce, then each dilated conv), then the final conv.
    rules = [
        (r'bam(\d)\.channel_att\.gate_c\.gate_c_fc_0\.(\w+)', r'layer\1.attn.channel_branch.0.\2'),
        (r'bam(\d)\.channel_att\.gate_c\.gate_c_bn_1\.(\w+)', r'layer\1.attn.channel_branch.1.\2'),
        (r'bam(\d)\.channel_att\.gate_c\.gate_c_fc_final\.(\w+)', r'layer\1.attn.channel_branch.3.\2'),
        (r'bam(\d)\.spatial_att\.gate_s\.gate_s_conv_reduce0\.(\w+)', r'layer\1.attn.spatial_branch.0.\2'),
        (r'bam(\d)\.spatial_att\.gate_s\.gate_s_bn_reduce0\.(\w+)', r'layer\1.attn.spatial_branch.1.\2'),
        (r'bam(\d)\.spatial_att\.gate_s\.gate_s_conv_final\.(\w+)',
         rf'layer\1.attn.spatial_branch.{3 + 3 * num_dilated_convs}.\2'),
    ]
    for i in range(num_dilated_convs):
        rules += [
            (rf'bam(\d)\.spatial_att\.gate_s\.gate_s_conv_di_{i}\.(\w+)',
             rf'layer\1.attn.spatial_branch.{3 + 3 * i}.\2'),
            (rf'bam(\d)\.spatial_att\.gate_s\.gate_s_bn_di_{i}\.(\w+)', rf'layer\1.attn.spatial_branch.{4 + 3 * i}.\2'),
        ]
    return rules


def bam_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' ResNet+BAM keys (``bam1..3``) -> ``resnet*_bam`` keys with BAM after stages 0..2."""
    out = rename_keys(unwrap_checkpoint(state_dict), _bam_rules())
    return linear_to_conv(out, r'layer\d\.attn\.channel_branch\.[03]\.weight')


MOVED = ('the authors moved the file from Dropbox to Google Drive (their README, since 2022); its name is the one '
         'of the Dropbox link')
COMMON = dict(repo_url=REPO, license='mit', reported_in='the authors\' README (github.com/Jongchan/attention-module)')

register_published(PublishedWeights(
    model='resnet50_cbam', tag='jongchan_in1k',
    model_args=dict(attn_stages=(0, 1, 2, 3), attn_position='block', attn_kwargs=dict(
        rd_ratio=1 / 16, rd_rounding='floor', mlp_bias=True, pool_order='max_mean', bn_momentum=0.01, bn_eps=1e-5,
        kernel_size=7)),
    convert=cbam_to_ours,
    paper='CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018)', arxiv='1807.06521',
    download_url='https://drive.google.com/file/d/1mvAVvhLR_2XY_bPYxh-SEz4vDmGzSArO/view?usp=sharing',
    file_name='RESNET50_CBAM_new_name_wrap.pth', top1=77.622, top5=93.948,
    notes=(MOVED,), **COMMON,
))

register_published(PublishedWeights(
    model='resnet50_bam', tag='jongchan_in1k',
    model_args=dict(attn_stages=(0, 1, 2), attn_position='stage_end', attn_kwargs=dict(
        rd_ratio=1 / 16, rd_rounding='floor', form='official', dilation=4, num_dilated_convs=2)),
    convert=bam_to_ours,
    paper='BAM: Bottleneck Attention Module (Park et al., BMVC 2018)', arxiv='1807.06514',
    download_url='https://drive.google.com/file/d/1auVf70gfL0ol40bvaX5rlbpn9cKIxhAL/view?usp=sharing',
    file_name='RESNET50_IMAGENET_BAM_best.pth.tar', top1=76.860, top5=93.416,
    notes=("the authors' channel pooling is an H x H window: global only on square maps (224 x 224 input)", MOVED),
    **COMMON,
))
