"""A training run killed midway and resumed with ``--resume`` ends with the weights of an
uninterrupted run (same seed), through mmpretrain's packaged ``tools/train.py``."""
from __future__ import annotations

import torch

from convattn_plugin.mm.mmpretrain_tools import mmpretrain_tool_path


def _state(path):
    # weights_only=True (torch's default): works thanks to convattn_plugin.mm's allow-list.
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    return ckpt['state_dict'], ckpt['optimizer'], ckpt['meta']


def test_killed_run_resumes_to_the_same_weights(tmp_path, hooks_dir, kit):
    train = str(mmpretrain_tool_path('train'))
    env = kit.child_env(hooks_dir)

    full = tmp_path / 'full'
    kit.run_tool([kit.PY, train, str(kit.CFG_CBAM), '--work-dir', str(full), *kit.cfg_options(kit.TINY)], env)

    # The same config plus a hook that SIGKILLs the run right after epoch 1's checkpoint ...
    killed_cfg = tmp_path / 'killed_cfg.py'
    killed_cfg.write_text(
        f"_base_ = [{str(kit.CFG_CBAM)!r}]\n"
        "custom_imports = dict(imports=['convattn_plugin.mm', 'cap_test_hooks'], allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='EpochSeedHook'), dict(type='KillAfterEpochHook', epoch=1)]\n")
    cut = tmp_path / 'cut'
    kit.run_tool([kit.PY, train, str(killed_cfg), '--work-dir', str(cut), *kit.cfg_options(kit.TINY)], env,
                 expect_rc=-9)
    assert (cut / 'epoch_1.pth').is_file() and not (cut / 'epoch_2.pth').exists()

    # ... then resumed from the work dir's last checkpoint.
    proc = kit.run_tool([kit.PY, train, str(kit.CFG_CBAM), '--work-dir', str(cut), '--resume', *kit.cfg_options(kit.TINY)], env)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log and 'Epoch(train) [2]' in log

    ref, ref_opt, ref_meta = _state(full / 'epoch_2.pth')
    got, got_opt, got_meta = _state(cut / 'epoch_2.pth')
    assert got_meta['epoch'] == ref_meta['epoch'] == 2 and got_meta['iter'] == ref_meta['iter'] == 6
    assert ref.keys() == got.keys()
    first = torch.load(cut / 'epoch_1.pth', map_location='cpu', weights_only=True)['state_dict']
    assert any(not torch.equal(first[k], ref[k]) for k in ref)  # epoch 2 did train
    diff = [k for k in ref if not torch.equal(ref[k], got[k])]
    assert not diff, f'resumed run differs from the uninterrupted one in {diff[:5]}'
    for a, b in zip(ref_opt['state'].values(), got_opt['state'].values()):
        assert torch.equal(a['momentum_buffer'], b['momentum_buffer'])
