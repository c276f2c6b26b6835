"""mmpretrain's model hub finds the project's configs: list_models, get_model, the inferencer."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import convattn_plugin.mm as cmm
from convattn_plugin.mm.hub import model_index_path, register_model_index

NAME = 'resnet18-cbam_1xb32_digits'


def _metafile_names() -> set[str]:
    index = model_index_path()
    names = set()
    for rel in yaml.safe_load(index.read_text())['Import']:
        names |= {m['Name'] for m in yaml.safe_load((index.parent / rel).read_text())['Models']}
    return names


def test_list_models_finds_every_config():
    import mmpretrain

    names = _metafile_names()
    assert set(mmpretrain.list_models('*cbam*')) == {n for n in names if 'cbam' in n}
    assert {'resnet18-cbam_1xb32_digits', 'resnet50-cbam_8xb32_in1k', 'vgg16-localattn_8xb32_in1k',
            'resnet18-plain_1xb32_digits'} <= set(mmpretrain.list_models())
    assert 'resnet50_8xb32_in1k' in mmpretrain.list_models('resnet50')  # mmpretrain's own still there


def test_metafile_configs_exist_and_match_names(kit):
    from mmpretrain.apis import ModelHub

    for name in _metafile_names():
        config = Path(ModelHub.get(name).config.filename)  # get() reads the config file
        assert config.is_file() and config.stem == name, name


def test_get_model_builds_the_attention_model():
    import mmpretrain

    model = mmpretrain.get_model(NAME)
    assert type(model.backbone).__name__ == 'ConvAttnResNet' and model.backbone.attention == 'cbam'
    assert model._dataset_meta['classes'] == tuple('0123456789')
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32), mode='tensor')
    assert out.shape == (2, 10)


def test_inferencer_runs_without_and_with_weights(trained_checkpoint):
    from mmpretrain import ImageClassificationInferencer
    from sklearn.datasets import load_digits

    digit = load_digits().images[0]  # a real 8x8 "0"; the test pipeline resizes it to 32 px
    img = np.repeat((digit * 255 / 16).astype(np.uint8)[..., None], 3, axis=-1)
    with pytest.warns(UserWarning, match='Unable to find pre-defined checkpoint'):
        bare = ImageClassificationInferencer(NAME)
    trained = ImageClassificationInferencer(NAME, pretrained=str(trained_checkpoint))
    saved = torch.load(trained_checkpoint, map_location='cpu', weights_only=True)['state_dict']
    assert torch.equal(trained.model.state_dict()['head.fc.weight'], saved['head.fc.weight'])
    for inferencer in (bare, trained):
        res = inferencer(img)[0]
        assert res['pred_class'] in [str(i) for i in range(10)] and len(res['pred_scores']) == 10


def test_registering_twice_is_harmless():
    import mmpretrain

    before = mmpretrain.list_models()
    assert register_model_index() == []
    assert register_model_index(model_index_path()) == []
    assert mmpretrain.list_models() == before
    assert cmm.HAS_MMPRETRAIN


def test_only_convattn_plugin_mm_registers_into_mmpretrain():
    # `import convattn_plugin` registers the timm models only: no import hook, no mmpretrain.
    code = ('import sys, timm, convattn_plugin; assert "mmpretrain" not in sys.modules; '
            'assert "convattn_plugin.mm" not in sys.modules; assert "resnet18_cbam" in timm.list_models("*cbam*"); '
            'import mmpretrain; assert "convattn_plugin.mm" not in sys.modules; '
            'print("before", sorted(mmpretrain.list_models("*-cbam_*"))); '
            'import convattn_plugin.mm; print("after", sorted(mmpretrain.list_models("*-cbam_*"))); '
            'print(type(mmpretrain.get_model("resnet18-cbam_1xb32_digits").backbone).__name__)')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == 'before []', proc.stdout
    assert 'resnet18-cbam_1xb32_digits' in lines[1] and 'resnet50-cbam_8xb32_in1k' in lines[1], proc.stdout
    assert lines[2] == 'ConvAttnResNet'


def test_mmcv_lite_import_warning_is_silenced_by_convattn_plugin_mm():
    def stderr_of(code):
        proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stderr

    # mmpretrain's models import mmcv.cnn.bricks.transformer, which warns under mmcv-lite...
    assert 'MultiScaleDeformableAttention' in stderr_of('import mmpretrain.models')
    # ...unless convattn_plugin.mm came first, as custom_imports make it in every mmpretrain tool.
    assert 'MultiScaleDeformableAttention' not in stderr_of('import convattn_plugin.mm, mmpretrain.models')
