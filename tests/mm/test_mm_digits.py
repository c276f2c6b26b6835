"""The SklearnDigits dataset (fixed split, upsampling) and the main job."""
from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from convattn_plugin.mm.datasets import SklearnDigits, digits_split

# sha1 of the sorted test indices, int64: pins the documented split.
TEST_SPLIT_SHA1 = 'ce5d2a24e70272927e91a8b3ebdc1a38be7d2ea8'


def test_split_is_fixed_stratified_and_disjoint():
    from sklearn.datasets import load_digits

    labels = load_digits().target
    train, test = digits_split()
    assert len(train) == 1437 and len(test) == 360
    assert not set(train) & set(test) and len(set(train) | set(test)) == 1797
    assert np.bincount(labels[test], minlength=10).tolist() == [36] * 10
    again_train, again_test = digits_split()
    assert np.array_equal(test, again_test) and np.array_equal(train, again_train)
    sha = hashlib.sha1(np.asarray(test, dtype=np.int64).tobytes()).hexdigest()
    assert sha == TEST_SPLIT_SHA1


def test_dataset_is_registered_in_mmpretrain_and_upsampled_by_the_pipeline(kit):
    from mmengine.config import Config

    init_default_scope('mmpretrain')
    assert DATASETS.get('SklearnDigits') is SklearnDigits
    cfg = Config.fromfile(str(kit.CFG_CBAM))
    train = DATASETS.build(cfg.train_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    assert (len(train), len(test)) == (1437, 360)
    assert train.metainfo['classes'] == tuple('0123456789')
    raw = test.get_data_info(0)
    assert raw['img'].shape == (8, 8, 3) and raw['img'].dtype == np.uint8 and raw['img'].max() > 200
    item = test[0]
    assert tuple(item['inputs'].shape) == (3, 32, 32)
    assert item['data_samples'].gt_label.item() == raw['gt_label']
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        SklearnDigits(split='val')


def test_thread_count_honours_omp_num_threads():
    from convattn_plugin.mm.digits_compare import available_cores, thread_count

    assert thread_count({'OMP_NUM_THREADS': '3'}) == (3, 'OMP_NUM_THREADS from the environment')
    assert thread_count({}) == (available_cores(), 'all available cores')
    with pytest.raises(ValueError, match="OMP_NUM_THREADS must be a positive integer, got '0'"):
        thread_count({'OMP_NUM_THREADS': '0'})


def test_main_command_shows_progress_and_both_results_on_a_tiny_run(kit, tmp_path):
    # train.py runs with --no-validate (no val_dataloader to override); test.py sees all 360 images.
    tiny = {k: v for k, v in kit.TINY.items() if not k.startswith(('val_', 'test_'))}
    opts = kit.cfg_options({**tiny, 'train_cfg.max_epochs': 1})
    proc = kit.run_tool([kit.PY, str(kit.TOOLS / 'digits_compare.py'), '--work-dir', str(tmp_path), '--', *opts],
                        kit.child_env(threads=1))
    out = proc.stdout
    assert re.search(r'^started .* UTC on .*cores available', out, re.M), out
    assert '1 thread(s) per process (OMP_NUM_THREADS from the environment)' in out
    for name in ('resnet18_cbam', 'resnet18 (plain)'):
        progress = re.findall(rf'^\[{re.escape(name)}\] epoch 1/1  iteration (\d)/3  loss [\d.]+  time left \S+$',
                              out, re.M)
        assert progress == ['1', '2', '3'], out  # the logger's interval is 1 in the tiny run
        assert re.search(rf'^{re.escape(name)}\s+\d+\.\d\d\s+\d+$', out, re.M), out
    assert (tmp_path / 'resnet18-cbam_1xb32_digits.train.log').read_text().count('Epoch(train)') == 3


@pytest.mark.mainjob
def test_main_job_reaches_97_percent(kit, tmp_path):
    """The README's main command, end to end: a minute on 2 idle cores, up to 20 on a busy machine."""
    proc = kit.run_tool([kit.PY, str(kit.TOOLS / 'digits_compare.py'), '--work-dir', str(tmp_path)],
                        kit.child_env(threads=2), timeout=3600)
    top1 = dict(re.findall(r'^(resnet18_cbam|resnet18 \(plain\))\s+([\d.]+)', proc.stdout, re.M))
    assert set(top1) == {'resnet18_cbam', 'resnet18 (plain)'}, proc.stdout
    assert float(top1['resnet18_cbam']) >= 97.0, proc.stdout
