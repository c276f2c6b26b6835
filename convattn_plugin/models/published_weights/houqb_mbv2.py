"""Coordinate attention on MobileNetV2, from the paper's authors (github.com/houqb/CoordAttention).

Their ``mbv2_ca.py`` is torchvision's MobileNetV2 layout (``features.{i}.conv.{j}``) with
``CoordAtt(hidden, hidden)`` at ``conv.6`` of every block with expansion: after the depthwise
conv + BN + ReLU6, before the pointwise-linear conv, i.e. timm's SE slot (``blocks.i.j.se``); the
first block (no expansion) has none. ``CoordAtt``: ``conv1`` (1x1, with bias) -> ``bn1`` ->
h-swish, ``conv2`` / ``conv3`` the height / width gates (our ``conv_h`` / ``conv_w``), width
``max(8, C // 32)``. Our ``conv1`` has no bias (BN follows): the authors' bias is folded into
``bn1.running_mean`` (``bn(conv + b) == bn'(conv)`` with ``running_mean' = running_mean - b``, in
training too). The head is ``conv`` (1x1 to 1280) and ``classifier`` (Dropout 0.1, Linear).

The file ``mbv2_ca.pth`` is in the repository (MIT). Code that loads it calls
``model.load_state_dict(torch.load('mbv2_ca.pth'))``: a plain state dict, no ``module.``; one
such script renames ``classifier.weight`` to ``classifier.1.weight`` first, so both names of
the classifier are accepted.
"""
from __future__ import annotations

from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['MBV2_BLOCKS', 'ca_mbv2_to_ours', 'mbv2_block_names']

REPO = 'https://github.com/houqb/CoordAttention'
# Blocks per stage of MobileNetV2-1.0 (timm's blocks.0..6, torchvision's features.1..17).
MBV2_BLOCKS = (1, 2, 3, 4, 3, 3, 1)


def mbv2_block_names() -> dict[int, str]:
    """``{features index: 'blocks.s.b'}`` of MobileNetV2-1.0 (``features.0`` is the stem)."""
    names, i = {}, 1
    for s, n in enumerate(MBV2_BLOCKS):
        for b in range(n):
            names[i] = f'blocks.{s}.{b}'
            i += 1
    return names


HEAD_INDEX = sum(MBV2_BLOCKS) + 1  # features.18 in the ECA / Triplet / SimAM layouts


def _rules() -> list[tuple[str, str]]:
    rules = [(r'features\.0\.0\.(\w+)', r'conv_stem.\1'), (r'features\.0\.1\.(\w+)', r'bn1.\1'),
             (r'conv\.0\.(\w+)', r'conv_head.\1'), (r'conv\.1\.(\w+)', r'bn2.\1'),
             (r'classifier(?:\.1)?\.(weight|bias)', r'classifier.\1')]
    for i, block in mbv2_block_names().items():
        if i == 1:  # no expansion: dw, BN, ReLU6, pw-linear, BN
            parts = {0: 'conv_dw', 1: 'bn1', 3: 'conv_pw', 4: 'bn2'}
        else:
            parts = {0: 'conv_pw', 1: 'bn1', 3: 'conv_dw', 4: 'bn2', 7: 'conv_pwl', 8: 'bn3'}
            rules += [(rf'features\.{i}\.conv\.6\.conv1\.(\w+)', rf'{block}.se.conv1.\1'),
                      (rf'features\.{i}\.conv\.6\.bn1\.(\w+)', rf'{block}.se.bn1.\1'),
                      (rf'features\.{i}\.conv\.6\.conv2\.(\w+)', rf'{block}.se.conv_h.\1'),
                      (rf'features\.{i}\.conv\.6\.conv3\.(\w+)', rf'{block}.se.conv_w.\1')]
        rules += [(rf'features\.{i}\.conv\.{j}\.(\w+)', rf'{block}.{ours}.\1') for j, ours in parts.items()]
    return rules


RULES = tuple(_rules())


def ca_mbv2_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' ``mbv2_ca`` keys -> ``mobilenetv2_100_coord`` keys (``conv1`` biases folded into BN)."""
    out = rename_keys(unwrap_checkpoint(state_dict), RULES)
    for key in [k for k in out if k.endswith('.se.conv1.bias')]:
        bias, mean = out.pop(key), key.replace('.se.conv1.bias', '.se.bn1.running_mean')
        if mean in out and out[mean].shape == bias.shape:
            out[mean] = out[mean] - bias.to(out[mean].dtype)
        else:  # leave it for the key check to report
            out[key] = bias
    return out


register_published(PublishedWeights(
    model='mobilenetv2_100_coord', tag='houqb_in1k',
    model_args=dict(attn_position='se', attn_stages=(1, 2, 3, 4, 5, 6), attn_kwargs=dict(rd_rounding='floor')),
    convert=ca_mbv2_to_ours,
    paper='Coordinate Attention for Efficient Mobile Network Design (Hou et al., CVPR 2021)',
    arxiv='2103.02907', repo_url=REPO, license='mit',
    download_url='https://github.com/houqb/CoordAttention/blob/main/mbv2_ca.pth',
    file_name='mbv2_ca.pth', top1=74.3, reported_in="the authors' README (github.com/houqb/CoordAttention)",
    notes=('plain state dict; conv1 biases of CA are folded into bn1.running_mean on loading',),
))
