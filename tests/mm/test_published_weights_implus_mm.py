"""The SK-ResNet* and SA-ResNet files become releases that mmpretrain loads strictly, with the authors' logits.

SK's tag carries per-branch tuples (``groups=(1, 32)``, ``dilations=(1, 1)``) and puts the unit
in place of ``conv2``: both have to survive the config, ``ConvAttnResNet`` and the release.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

import convattn_plugin.mm  # noqa: F401  (registers the backbones)
from convattn_plugin.checkpoint import load_weights
from convattn_plugin.models.published_weights import PUBLISHED
from convattn_plugin.release.published import config_path, convert_published

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tests'))
from test_published_weights_implus import _authors_file  # noqa: E402


@pytest.mark.parametrize('name', ['resnet50_sk.implus_in1k', 'resnet50_shuffle.wofmanaf_in1k'])
def test_release_of_the_authors_file_gives_their_logits_in_mmpretrain(name, tmp_path, one_thread):
    reference, authors = _authors_file(tmp_path, name)
    release = convert_published(name, authors, tmp_path / 'release', date='20260101', verify=False)
    mm_model = MODELS.build(Config.fromfile(str(config_path(PUBLISHED[name]))).model).eval()
    mm_model.load_state_dict(load_weights(release.checkpoint)['state_dict'], strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(mm_model(x, mode='tensor'), reference(x), atol=1e-5, rtol=1e-5)
