"""mmpretrain's packaged tools/test.py and the project's tools/test.py read our configs and
full training checkpoints (weights_only=True under torch >= 2.6)."""
from __future__ import annotations

import json

from convattn_plugin.mm.mmpretrain_tools import load_mmpretrain_tool, mmpretrain_tool_path


def test_packaged_tools_are_found():
    assert mmpretrain_tool_path('train').name == 'train.py'
    tool = load_mmpretrain_tool('test')
    assert callable(tool.parse_args) and callable(tool.merge_args)


def test_packaged_and_project_test_py_evaluate_a_training_checkpoint(trained_checkpoint, kit, tmp_path):
    opts = kit.cfg_options({'test_dataloader.dataset.indices': 40})
    results = {}
    for which, tool in (('mmpretrain', mmpretrain_tool_path('test')), ('project', kit.TOOLS / 'test.py')):
        out = tmp_path / f'{which}.json'
        kit.run_tool([kit.PY, str(tool), str(kit.CFG_CBAM), str(trained_checkpoint), '--work-dir',
                      str(tmp_path / which), '--out', str(out), '--out-item', 'metrics', *opts], kit.child_env())
        results[which] = json.loads(out.read_text())['accuracy/top1']
    assert 0 <= results['mmpretrain'] <= 100
    assert results['mmpretrain'] == results['project']
