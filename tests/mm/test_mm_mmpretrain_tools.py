"""mmpretrain's packaged analysis tools on the project's configs and checkpoints: get_flops,
print_config, analyze_logs, vis_cam, and publish_model through ``python -m convattn_plugin.mm``."""
from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch

from convattn_plugin.mm.config_schema import UnsafeReleaseError
from convattn_plugin.mm.mmpretrain_tools import list_mmpretrain_tools, mmpretrain_tool_path, release_configs_in_argv

DIGITS_TRAIN_IMAGES, DIGITS_BATCH = 1437, 32


def _tool(kit, name, *args, expect_rc=0):
    return kit.run_tool([kit.PY, str(mmpretrain_tool_path(name)), *map(str, args)], kit.child_env(),
                        expect_rc=expect_rc)


def test_existing_json_arguments_are_release_configs_and_outputs_pass_through(tmp_path):
    model = dict(type='ImageClassifier', backbone=dict(type='ConvAttnResNet', depth=18, attention='cbam'),
                 neck=dict(type='GlobalAveragePooling'), head=dict(type='LinearClsHead', num_classes=3, in_channels=512))
    config = tmp_path / 'release.json'
    config.write_text(json.dumps(dict(model=model)))
    copies = tmp_path / 'copies'
    copies.mkdir()
    argv = release_configs_in_argv([str(config), '--out', str(tmp_path / 'new_result.json'), '--shape', '32'], copies)
    assert argv[1:] == ['--out', str(tmp_path / 'new_result.json'), '--shape', '32']
    assert argv[0] != str(config) and json.loads(open(argv[0]).read())['model'] == model  # the checked copy
    config.write_text(json.dumps(dict(model=model, _base_=['evil.py'])))
    with pytest.raises(UnsafeReleaseError, match="_base_.*every existing .json argument"):
        release_configs_in_argv([str(config)], copies)


def test_tool_names_are_checked():
    assert 'analysis_tools/get_flops' in list_mmpretrain_tools()
    assert mmpretrain_tool_path('misc/print_config.py') == mmpretrain_tool_path('misc/print_config')
    with pytest.raises(ValueError, match="inside mmpretrain's tools/ folder.*'../x'"):
        mmpretrain_tool_path('../x')
    with pytest.raises(FileNotFoundError, match='no such packaged mmpretrain tool'):
        mmpretrain_tool_path('analysis_tools/no_such_tool')


def test_digits_configs_log_several_records_an_epoch(kit):
    # analyze_logs.py cal_train_time drops each epoch's first record: one record an epoch gives NaN.
    from mmengine.config import Config

    iters = math.ceil(DIGITS_TRAIN_IMAGES / DIGITS_BATCH)
    configs = sorted(kit.REPO.glob('configs/*/*_1xb32_digits.py'))
    assert len(configs) >= 4
    for path in configs:
        cfg = Config.fromfile(str(path), import_custom_modules=False)
        assert cfg.train_dataloader.batch_size == DIGITS_BATCH, path
        assert iters // cfg.default_hooks.logger.interval >= 3, path


def test_get_flops_counts_the_attention_backbone(kit):
    import mmpretrain

    out = _tool(kit, 'analysis_tools/get_flops', kit.CFG_CBAM, '--shape', 32).stdout
    params = float(re.search(r'^Params: ([\d.]+)M$', out, re.M).group(1)) * 1e6
    model = mmpretrain.get_model(str(kit.CFG_CBAM))
    expected = sum(p.numel() for p in model.parameters())  # the head's too, although not run
    assert abs(params - expected) <= 500, (params, expected)  # printed with 3 decimals in millions
    assert re.search(r'^Flops: [\d.]+[MG]$', out, re.M), out[-2000:]
    assert 'Input shape: (3, 32, 32)' in out


def test_print_config_shows_the_plugin_parts(kit):
    out = _tool(kit, 'misc/print_config', kit.CFG_CBAM).stdout
    assert "arch='resnet18_cbam'" in out and "type='ConvAttnBackbone'" in out
    assert "type='LoadImageUnlessGiven'" in out
    assert re.search(r"custom_imports = dict\(\s*allow_failed_imports=False, imports=\[\s*'convattn_plugin.mm',", out)


def test_analyze_logs_cal_train_time_gives_numbers(kit, tmp_path):
    from mmengine.runner import Runner

    cfg = kit.tiny_runner_cfg(kit.CFG_CBAM, tmp_path, **{'train_cfg.val_interval': 5})
    torch.set_num_threads(1)
    Runner.from_cfg(cfg).train()
    (log,) = [p for p in tmp_path.glob('*/vis_data/*.json') if p.name != 'scalars.json']
    out = _tool(kit, 'analysis_tools/analyze_logs', 'cal_train_time', log).stdout
    times = [float(x) for x in re.findall(r'average (?:iter )?time(?: is)?:? ([\w.]+)', out)]
    assert len(times) == 3 and all(math.isfinite(t) and t > 0 for t in times), out
    assert 'nan' not in out.lower()


def test_vis_cam_on_a_digit_image_with_the_documented_target_layer(kit, trained_checkpoint, tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits

    digit = (load_digits().images[3] * 255 / 16).astype(np.uint8)
    Image.fromarray(digit).convert('RGB').save(tmp_path / 'digit.png')
    out_png = tmp_path / 'cam.png'
    proc = _tool(kit, 'visualization/vis_cam', tmp_path / 'digit.png', kit.CFG_CBAM, trained_checkpoint,
                 '--target-layers', 'backbone.timm_model.layer4', '--save-path', out_png)
    assert 'Automatically choose' not in proc.stdout  # the given layer was used
    cam = np.asarray(Image.open(out_png))
    assert cam.shape == (32, 32, 3)  # the digit after the config's test pipeline (Resize to 32 px)
    assert cam.std() > 1.0  # a heat map over the image, not a flat panel


def test_publish_model_needs_the_plugin_and_gets_it_from_the_wrapper(kit, trained_checkpoint, tmp_path):
    out = tmp_path / 'published.pth'
    bare = _tool(kit, 'model_converters/publish_model', trained_checkpoint, out, expect_rc=None)
    assert bare.returncode != 0 and 'HistoryBuffer' in bare.stderr  # torch's weights_only default
    kit.run_tool([kit.PY, '-m', 'convattn_plugin.mm', 'model_converters/publish_model',
                  str(trained_checkpoint), str(out)], kit.child_env())
    (published,) = tmp_path.glob('published_*-*.pth')
    ckpt = torch.load(published, map_location='cpu', weights_only=True)
    saved = torch.load(trained_checkpoint, map_location='cpu', weights_only=True)['state_dict']
    assert set(ckpt) == {'state_dict', 'meta'}
    assert all(torch.equal(ckpt['state_dict'][k], v) for k, v in saved.items())
