"""SE on ResNet-50 from timm's own ``seresnet50.a1_in1k`` weights (ResNet strikes back, A1 recipe).

timm's ``seresnet50`` is the same ``ResNet`` class as our ``resnet50_se``, with its
``SEModule`` in the ``se`` slot of every block: ``fc1`` (1x1 conv, bias) -> ReLU -> ``fc2``
-> sigmoid on the average-pooled map, width ``C / 16`` (rounded to a multiple of 8: equal to
ours at every ResNet width). Its keys are ours; the file is a plain state dict (timm's release
``seresnet50_a1_0-ffa00869.pth`` or the Hub's ``model.safetensors``). Preprocessing is the
A1 recipe's: bicubic, crop 0.95, tested at 288 px.

The cfg carries timm's own sources for ``seresnet50.a1_in1k`` (:data:`TIMM_HUB_ID`, :data:`TIMM_URL`),
so ``pretrained=True`` fetches the file as timm does: from the Hugging Face hub through its cache
(``HF_HOME``; ``HF_HUB_OFFLINE=1`` reads a populated cache without the network), or from the GitHub
release when ``huggingface_hub`` is not installed. ``pretrained_cfg_overlay=dict(file=...)`` loads a
copy from elsewhere.
"""
from __future__ import annotations

from .key_rules import unwrap_checkpoint
from .registry import PublishedWeights, StateDict, register_published

__all__ = ['TIMM_HUB_ID', 'TIMM_URL', 'timm_se_to_ours']

#: Where timm keeps ``seresnet50.a1_in1k`` (its pretrained cfg's ``hf_hub_id`` and ``url``).
TIMM_HUB_ID = 'timm/seresnet50.a1_in1k'
TIMM_URL = ('https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/'
            'seresnet50_a1_0-ffa00869.pth')


def timm_se_to_ours(state_dict: StateDict) -> StateDict:
    """timm's ``seresnet50`` keys are ``resnet50_se``'s: only a wrapper or ``module.`` is removed."""
    return unwrap_checkpoint(state_dict)


register_published(PublishedWeights(
    model='resnet50_se', tag='timm_a1_in1k',
    model_args=dict(attn_stages=(0, 1, 2, 3), attn_position='block', attn_kwargs=dict(rd_ratio=1 / 16)),
    convert=timm_se_to_ours,
    paper='Squeeze-and-Excitation Networks (Hu et al., CVPR 2018); ResNet strikes back (Wightman et al., 2021)',
    arxiv='1709.01507', repo_url='https://github.com/huggingface/pytorch-image-models', license='apache-2.0',
    download_url=f'https://huggingface.co/{TIMM_HUB_ID}',
    file_name='model.safetensors', top1=81.102, top5=95.120,
    reported_in="timm's results table (results/results-imagenet.csv: 288 px, crop 1.0, bicubic)",
    cfg=dict(hf_hub_id=TIMM_HUB_ID, url=TIMM_URL, file=None,
             interpolation='bicubic', crop_pct=0.95, test_input_size=(3, 288, 288), test_crop_pct=1.0),
    notes=('weights trained by timm (Ross Wightman) with the ResNet strikes back A1 recipe, arXiv:2110.00476',),
))
