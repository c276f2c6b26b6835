"""A training run killed midway and resumed with ``--resume`` ends with the weights of an
uninterrupted run (same seed): trained with mmpretrain's packaged ``tools/train.py``, killed
while saving its next checkpoint (a torn ``epoch_2.pth``), resumed with this repo's
``tools/train.py``, which skips the torn file with a warning and continues from epoch 1."""
from __future__ import annotations

import pytest
import torch

from convattn_plugin.mm.mmpretrain_tools import mmpretrain_tool_path
from convattn_plugin.mm.resume import ResumeError, prepare_resume


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

    # ... as if killed again while saving epoch 2: a torn newest checkpoint that last_checkpoint names ...
    data = (cut / 'epoch_1.pth').read_bytes()
    (cut / 'epoch_2.pth').write_bytes(data[:len(data) // 2])
    (cut / 'last_checkpoint').write_text(str(cut / 'epoch_2.pth'))

    # ... then resumed from the newest intact checkpoint.
    ours = str(kit.TOOLS / 'train.py')
    proc = kit.run_tool([kit.PY, ours, str(kit.CFG_CBAM), '--work-dir', str(cut), '--resume', *kit.cfg_options(kit.TINY)],
                        env)
    log = proc.stdout + proc.stderr
    assert 'epoch_2.pth (torn' in log and 'resuming from' in log and 'epoch_1.pth' in log
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


# --------------------------------------------------------------------------------------
# Which checkpoint --resume picks, and refusing to overwrite a run (convattn_plugin.mm.resume)
# --------------------------------------------------------------------------------------

def _write_run(work_dir, epochs):
    work_dir.mkdir(parents=True, exist_ok=True)
    for e in epochs:
        torch.save({'state_dict': {'w': torch.full((64,), float(e))}, 'meta': {'epoch': e}}, work_dir / f'epoch_{e}.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / f'epoch_{epochs[-1]}.pth'))


def _cfg(work_dir, resume):
    from mmengine.config import Config

    return Config(dict(work_dir=str(work_dir), resume=resume, load_from=None))


def test_resume_without_a_checkpoint_is_an_error_not_a_fresh_start(tmp_path):
    with pytest.raises(ResumeError, match=r'--resume: nothing to resume in .*: no last_checkpoint and no epoch_\*\.pth'):
        prepare_resume(_cfg(tmp_path / 'empty', True))


def test_a_torn_newest_checkpoint_falls_back_to_the_intact_one(tmp_path):
    _write_run(tmp_path, [1, 2, 3])
    data = (tmp_path / 'epoch_3.pth').read_bytes()
    (tmp_path / 'epoch_3.pth').write_bytes(data[:len(data) // 2])  # killed while saving
    cfg = _cfg(tmp_path, True)
    with pytest.warns(UserWarning, match=r'skipped .*epoch_3\.pth \(torn .*resuming from .*epoch_2\.pth'):
        prepare_resume(cfg)
    assert cfg.load_from == str(tmp_path / 'epoch_2.pth') and cfg.resume
    (tmp_path / 'epoch_2.pth').write_bytes(b'')
    (tmp_path / 'epoch_1.pth').write_bytes(b'x' * 10)
    with pytest.raises(ResumeError, match=r'no intact checkpoint .*epoch_2\.pth \(empty \(0 bytes\)\)'):
        prepare_resume(_cfg(tmp_path, True))


def test_without_last_checkpoint_the_newest_epoch_file_is_used(tmp_path):
    _write_run(tmp_path, [1, 2, 10])
    (tmp_path / 'last_checkpoint').unlink()
    cfg = _cfg(tmp_path, True)
    prepare_resume(cfg)
    assert cfg.load_from == str(tmp_path / 'epoch_10.pth')


def test_a_fresh_run_never_overwrites_a_runs_checkpoints(tmp_path):
    _write_run(tmp_path, [1, 2])
    with pytest.raises(ResumeError, match=r'already holds the checkpoints of a run \(epoch_2\.pth, epoch_1\.pth\).*'
                                          r'Pass --resume'):
        prepare_resume(_cfg(tmp_path, False))
    prepare_resume(_cfg(tmp_path / 'new', False))  # an empty or new work dir is fine


def test_train_tool_says_so(tmp_path, kit):
    proc = kit.run_tool([kit.PY, str(kit.TOOLS / 'train.py'), str(kit.CFG_CBAM), '--work-dir', str(tmp_path),
                         '--resume'], kit.child_env(), expect_rc=1)
    assert 'train.py: error: --resume: nothing to resume in' in proc.stderr
    assert not list(tmp_path.glob('epoch_*.pth'))
