"""Two processes under torchrun (tools/dist_train.sh; gloo, CPU) train the digits config and agree."""
from __future__ import annotations

import socket

import torch

import convattn_plugin.mm  # noqa: F401  (torch.load of full checkpoints below)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_torchrun_two_cpu_processes_train_and_agree(tmp_path, hooks_dir, kit):
    dumps = tmp_path / 'dumps'
    dumps.mkdir()
    cfg = tmp_path / 'dist_cfg.py'
    cfg.write_text(
        f"_base_ = [{str(kit.CFG_CBAM)!r}]\n"
        "custom_imports = dict(imports=['convattn_plugin.mm', 'cap_test_hooks'], allow_failed_imports=False)\n"
        f"custom_hooks = [dict(type='EpochSeedHook'), dict(type='DumpParamsHook', out_dir={str(dumps)!r})]\n")
    work = tmp_path / 'work'
    # tools/dist_train.sh: torchrun over the project's tools/train.py (--launcher pytorch).
    cmd = ['bash', str(kit.TOOLS / 'dist_train.sh'), str(cfg), '2', '--work-dir', str(work),
           *kit.cfg_options(kit.TINY)]
    env = kit.child_env(hooks_dir)
    env.update(PYTHON=kit.PY, PORT=str(_free_port()))
    proc = kit.run_tool(cmd, env, timeout=400)

    r0, r1 = (torch.load(dumps / f'rank{r}.pth', weights_only=True) for r in (0, 1))
    assert (r0['rank'], r1['rank']) == (0, 1) and r0['world_size'] == r1['world_size'] == 2
    # DistributedSampler: each rank sees half of the 48 images per epoch, 2 epochs.
    assert r0['seen'] == r1['seen'] == 48
    assert r0['params'].keys() == r1['params'].keys()
    diff = [k for k in r0['params'] if not torch.equal(r0['params'][k], r1['params'][k])]
    assert not diff, f'ranks disagree on {diff[:5]}'
    # ... and they did train: the weights moved away from the first epoch's checkpoint.
    first = torch.load(work / 'epoch_1.pth', map_location='cpu', weights_only=True)['state_dict']
    assert any(not torch.equal(first[k], r0['params'][k]) for k in r0['params'] if k in first)
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log and "backend='gloo'" in log
