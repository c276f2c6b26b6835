"""One real leaderboard on digits: two models, one seed, a few iterations, through mmengine's Runner."""
from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip('mmpretrain', reason='the leaderboard trains through the [mm] extra')

# A few iterations on a few images: 48 training images in batches of 16, one epoch, 60 test images.
TINY = {
    'train_dataloader.dataset.indices': 48,
    'train_dataloader.batch_size': 16,
    'test_dataloader.dataset.indices': 60,
    'train_cfg.max_epochs': 1,
}


def test_tiny_digits_leaderboard_end_to_end(tmp_path, one_thread):
    from convattn_plugin.leaderboard import run_leaderboard
    from convattn_plugin.leaderboard.plan import RunSpec
    from convattn_plugin.leaderboard.trainer import train_run

    paths = run_leaderboard('digits', kinds=['se'], seeds=1, work_dir=str(tmp_path / 'lb'), cfg_options=TINY,
                            progress=False, command='tiny')
    assert sorted(paths) == ['csv', 'json', 'md', 'png']
    data = json.loads(open(paths['json']).read())
    runs = {r['model']: r for r in data['runs']}
    assert sorted(runs) == ['baseline', 'se']
    for r in runs.values():
        assert r['iterations'] == 3 and r['epochs'] == 1 and r['test_images'] == 60
        assert 0.0 <= r['top1'] <= 100.0
    assert runs['baseline']['weights_sha256'] != runs['se']['weights_sha256']
    rows = list(csv.DictReader(open(paths['csv'])))
    assert [r['model'] for r in rows][0] == 'baseline' and {r['model'] for r in rows} == {'baseline', 'se'}
    se = next(r for r in rows if r['model'] == 'se')
    assert int(se['params']) > int(rows[0]['params'])  # SE adds parameters
    assert float(se['mflops']) > float(rows[0]['mflops'])

    # Same seed, same machine: the same weights and top-1.
    again = train_run(RunSpec(None, 0), 'digits', 'cpu', str(tmp_path / 'again'), cfg_options=TINY, progress=False)
    assert again['weights_sha256'] == runs['baseline']['weights_sha256']
    assert again['top1'] == runs['baseline']['top1']
