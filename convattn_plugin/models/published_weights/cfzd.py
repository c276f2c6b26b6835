"""FcaNet on ResNet-34/50/101/152, from the paper's authors (github.com/cfzd/FcaNet).

Their ``model/fcanet.py`` is torchvision's ``ResNet`` (adaptive average pooling) with
``FcaBasicBlock`` / ``FcaBottleneck``: ``att = MultiSpectralAttentionLayer(C, s, s,
reduction=16, freq_sel_method='top16')`` on the last BN's output, before the addition (our
``'block'`` placement, also in the BasicBlocks of ResNet-34). ``s`` is the stage's map size at
224 px (``c2wh = {64: 56, 128: 28, 256: 14, 512: 7}`` by the block's ``planes``), so the tags set
``attn_stage_kwargs`` to DCT sizes 56 / 28 / 14 / 7 and ``freq_sel='top'``, ``num_freq=16``,
``C // 16`` (no biases). Keys: ``layer{i}.{j}.att.fc.0.weight`` / ``fc.2.weight`` (``nn.Linear``)
-> ``...se.fc1.weight`` / ``se.fc2.weight`` (1x1 convs), ``att.dct_layer.weight`` ->
``se.dct_layer.weight``.

The DCT filters are a buffer in their file. The conversion checks each against the filters the
tag builds (top-16 frequencies at the stage's size) and refuses a file whose filters differ,
listing every such key (the learnable-tensor or random-tensor models of the authors' FAQ, or
another frequency selection); the file's values are then loaded as they are. The tolerance is
fp16 rounding (relative 1e-3): the authors trained with apex O2 and converted to FP32.

Files: plain state dicts (their ``utils/clip_models.py`` takes ``state_dict`` out of the training
checkpoint and drops ``module.``; their ``hubconf.py`` loads the file with ``load_state_dict``),
attached to the repository's v1.0 release as ``fca{34,50,101,152}.pth``: a direct, stable URL,
so ``pretrained=True`` downloads it as timm downloads its own weights (torch's hub cache). The
README links the four models on Google Drive / Baidu Pan instead; a copy from there loads through
``pretrained_cfg_overlay=dict(file=...)`` (a plain or a wrapped state dict, ``module.`` or not).
"""
from __future__ import annotations

import re
from functools import lru_cache

import torch

from ...layers.fca import dct_filters, frequency_indices
from ..pretrained import ArchitectureMismatchError, LoadReport
from .key_rules import linear_to_conv, rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['FCA_DCT_SIZES', 'check_fca_dct_filters', 'fca_to_ours']

REPO = 'https://github.com/cfzd/FcaNet'
RELEASE = REPO + '/releases/download/v1.0'
RULES = (
    (r'(layer\d\.\d+)\.att\.fc\.0\.weight', r'\1.se.fc1.weight'),
    (r'(layer\d\.\d+)\.att\.fc\.2\.weight', r'\1.se.fc2.weight'),
    (r'(layer\d\.\d+)\.att\.dct_layer\.weight', r'\1.se.dct_layer.weight'),
)
DCT_KEY = re.compile(r'layer\d\.\d+\.se\.dct_layer\.weight')
FCA_DCT_SIZES = (56, 28, 14, 7)  # per stage: the maps' sizes at 224 px (their c2wh)
FREQ_SEL, NUM_FREQ = 'top', 16   # their freq_sel_method='top16'
# apex O2 kept the buffer in fp16 (relative rounding 2^-11); a trained tensor differs far more.
DCT_RTOL, DCT_ATOL = 1e-3, 1e-6
# depth -> (top-1 'Reported', top-1 of the FP32 file as the authors evaluated it, Google Drive id)
REPORTED = {
    34: (75.07, 75.02, '1zTbhu1ynShAG9qH_HKJfOQeWBWVD9dCW'),
    50: (78.52, 78.57, '1O7qtqHSXdwRzUv_m6wrqB4TVF-rqJInB'),
    101: (79.64, 79.63, '11CydGJ_dzjdOn9Z3E00enc125SpFJD8k'),
    152: (80.08, 80.02, '1rtNAmePV4dIpTEkLCT08p6yiRyH0FC3B'),
}


@lru_cache(maxsize=None)
def _expected_filters(channels: int, size: int) -> torch.Tensor:
    return dct_filters(channels, size, frequency_indices(FREQ_SEL, NUM_FREQ, size))


def check_fca_dct_filters(state_dict: StateDict, name: str = 'the file') -> None:
    """Refuse DCT buffers that are not the top-16 filters of their size, listing every such key.

    A buffer of another shape is left to the key-by-key check against the model.

    Raises:
        ArchitectureMismatchError: Some ``se.dct_layer.weight`` holds other filters (its report
            lists them as mismatched).
    """
    bad, keys = [], []
    for key, value in state_dict.items():
        if not DCT_KEY.fullmatch(key) or value.dim() != 3 or value.shape[1] != value.shape[2]:
            continue
        channels, size = value.shape[0], value.shape[1]
        if size < 7 or channels % NUM_FREQ:
            continue
        expected = _expected_filters(channels, size)
        diff = (value.double() - expected).abs()
        if not bool((diff <= DCT_ATOL + DCT_RTOL * expected.abs()).all()):
            keys.append(key)
            bad.append(f'  {key}: max difference {diff.max().item():.3g} from the top-16 DCT filters of size {size}')
    if bad:
        raise ArchitectureMismatchError(
            f"{name}: {len(bad)} DCT filter buffers are not FcaNet's fixed top-16 DCT filters that this tag builds "
            "(a model with learnable or random filters, or another frequency selection?):\n" + '\n'.join(bad),
            LoadReport(mismatched_keys=keys))


def fca_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' FcaNet keys -> ``resnet*_fca`` keys; the DCT buffers are checked, then kept."""
    out = linear_to_conv(rename_keys(unwrap_checkpoint(state_dict), RULES), r'layer\d\.\d+\.se\.fc[12]\.weight')
    check_fca_dct_filters(out, "the authors' FcaNet file")
    return out


for _depth, (_top1, _evaluated, _drive) in REPORTED.items():
    _url = f'{RELEASE}/fca{_depth}.pth'
    register_published(PublishedWeights(
        model=f'resnet{_depth}_fca', tag='cfzd_in1k',
        model_args=dict(attn_stages=(0, 1, 2, 3), attn_position='block',
                        attn_kwargs=dict(freq_sel=FREQ_SEL, num_freq=NUM_FREQ, rd_ratio=1 / 16, rd_rounding='floor'),
                        attn_stage_kwargs=[dict(dct_size=s) for s in FCA_DCT_SIZES]),
        convert=fca_to_ours,
        paper='FcaNet: Frequency Channel Attention Networks (Qin et al., ICCV 2021)', arxiv='2012.11879',
        repo_url=REPO, license='mit', download_url=_url, file_name=f'fca{_depth}.pth',
        top1=_top1, top5=None, reported_in="the authors' README (github.com/cfzd/FcaNet), column 'Reported'",
        cfg=dict(url=_url, file=None),
        notes=((f"the authors' evaluation of this FP32 file: top-1 {_evaluated:.2f}% (README); the README also "
                f'links it on Google Drive (https://drive.google.com/file/d/{_drive}/view) and Baidu Pan'),
               ('DCT sizes per stage 56/28/14/7 (the 224 px maps); other input sizes are pooled to them, as the '
                "authors' code does")),
    ))
