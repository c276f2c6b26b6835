"""EMA on MobileNetV2, from the paper's authors (github.com/YOLOonMe/EMA-attention-module).

Their ImageNet MobileNetV2 is timm's ``mobilenetv2_100`` from their timm fork
(``timm/models/efficientnet_blocks.py``): every ``InvertedResidual`` whose expanded width
``mid_chs`` exceeds 144 gets ``self.ema = ema_layer(mid_chs)`` (``EmaModule``, factor 32), applied
right after the (empty) ``se`` slot, before the pointwise-linear conv; ``DepthwiseSeparableConv``
would add one only above 320 channels, never in MobileNetV2. That is our ``'se'`` placement with
``attn_min_channels=145`` in all seven stages (13 blocks). Keys are timm's; only
``blocks.s.b.ema.{gn,conv1x1,conv3x3}`` -> ``blocks.s.b.se.*``.

The README reports 74.32 / 91.82 top-1 / top-5 after 400 epochs and links the file on Baidu Pan
(code 1234). Trained with timm's ``train.py``, whose ``CheckpointSaver`` writes
``{'epoch', 'arch', 'state_dict', 'optimizer', 'version', 'args', 'metric'}`` (plus
``'state_dict_ema'`` with ``--model-ema``); timm reads such a file as it is (its loader allows the
``argparse.Namespace`` of ``args`` under ``weights_only=True``) and takes ``state_dict_ema`` when
present, else ``state_dict`` (``timm.models.load_state_dict``); a plain state dict (what timm's
``clean_checkpoint.py`` writes) loads too.
Their second MobileNetV2 (the d-li14/mobilenetv2.pytorch layout, 200 epochs, 72.55 top-1) has no
code in the repository, so no tag. The repository has no licence file.
"""
from __future__ import annotations

from .key_rules import rename_keys, unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['ema_mbv2_to_ours']

REPO = 'https://github.com/YOLOonMe/EMA-attention-module'
RULES = ((r'(blocks\.\d+\.\d+)\.ema\.(gn|conv1x1|conv3x3)\.(weight|bias)', r'\1.se.\2.\3'),)


def ema_mbv2_to_ours(state_dict: StateDict) -> StateDict:
    """The authors' timm MobileNetV2 + EMA keys -> ``mobilenetv2_100_ema`` keys."""
    return rename_keys(unwrap_checkpoint(state_dict), RULES)


register_published(PublishedWeights(
    model='mobilenetv2_100_ema', tag='yoloonme_in1k',
    model_args=dict(attn_position='se', attn_stages=tuple(range(7)), attn_min_channels=145,
                    attn_kwargs=dict(groups=32)),
    convert=ema_mbv2_to_ours,
    paper='Efficient Multi-Scale Attention Module with Cross-Spatial Learning (Ouyang et al., ICASSP 2023)',
    arxiv='2305.13563', repo_url=REPO, license='unknown',
    download_url='https://pan.baidu.com/s/1a1p30h-ZkDUSzKJLTGJSnw?pwd=1234',
    file_name='mobilenetv2_100_ema.pth.tar', file_name_known=False, top1=74.32, top5=91.82,
    reported_in="the authors' README (github.com/YOLOonMe/EMA-attention-module, timm MobileNetV2, 400 epochs)",
    notes=("the authors' repository has no licence file: ask them before redistributing the weights",
           'EMA (factor 32) after the depthwise conv of the 13 blocks wider than 144 channels; the file is on Baidu Pan '
           '(code 1234), its name is not shown: pass your download with pretrained_cfg_overlay=dict(file=...)',
           "a timm training checkpoint loads as downloaded: timm takes its state_dict_ema when present, else its "
           "state_dict; a plain state dict (timm's clean_checkpoint.py) loads too"),
))
