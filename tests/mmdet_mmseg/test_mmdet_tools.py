"""mmdet's and mmseg's own ``tools/train.py`` and ``tools/test.py`` (as packaged in their wheels) on the tiny configs.

A couple of iterations on the real tree / nuclei data written from the vendored images: the config's
``custom_imports`` registers the plugin in the child process, training writes a checkpoint, and
``test.py`` loads it (a full training checkpoint, through the project's ``weights_only`` loader) and
reports COCO box mAP / mIoU.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.mmdet

REPO = Path(__file__).resolve().parents[2]
CASES = {
    'mmdet': ('det', 'configs/faster_rcnn_attn/faster-rcnn_r18-cbam_fpn_1xb4-300i_trees.py', r'coco/bbox_mAP: ([\d.]+)'),
    'mmseg': ('seg', 'configs/upernet_attn/upernet_r18-cbam_1xb8-300i_nuclei-64x64.py', r'mIoU: ([\d.]+)'),
}


@pytest.mark.parametrize('package', list(CASES))
def test_their_train_and_test_tools_run_our_configs(package, kit, trees_root, nuclei_root, tmp_path):
    kind, config, metric = CASES[package]
    data = trees_root if kind == 'det' else nuclei_root
    opts = {**kit.data_options(kind, data), 'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
            'default_hooks.logger.interval': 1, 'default_hooks.checkpoint.interval': 2}
    if kind == 'det':  # two iterations score nothing above 0.05; CocoMetric needs a detection
        opts['model.test_cfg.rcnn.score_thr'] = 0.0
    work = tmp_path / 'work'
    train = kit.run_tool([kit.tool(package, 'train.py'), config, '--work-dir', work, *kit.cfg_options(opts)])
    log = train.stdout + train.stderr
    assert 'Iter(train) [2/2]' in log
    assert re.search(metric, log), log[-3000:]
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file()
    test = kit.run_tool([kit.tool(package, 'test.py'), config, ckpt, '--work-dir', tmp_path / 'test',
                         *kit.cfg_options(opts)])
    out = test.stdout + test.stderr
    assert f'Load checkpoint from {ckpt}' in out
    value = float(re.search(metric, out).group(1))
    assert 0 <= value <= 100
    # the same weights evaluate to the same number in both tools
    assert value == float(re.findall(metric, log)[-1])
