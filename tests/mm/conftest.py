"""Shared pieces of the OpenMMLab tests: tiny digits runs, tool paths, test-only hooks."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

if importlib.util.find_spec('mmpretrain') is None:  # the optional [mm] extra is not installed
    collect_ignore_glob = ['test_*.py']

REPO = Path(__file__).resolve().parents[2]
CFG_CBAM = REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py'
CFG_PLAIN = REPO / 'configs/resnet/resnet18-plain_1xb32_digits.py'
TOOLS = REPO / 'tools'

# A few iterations on a few images: 48 training images in batches of 16 (3 iterations an
# epoch), 40 test images.
TINY = {
    'train_dataloader.dataset.indices': 48,
    'train_dataloader.batch_size': 16,
    'val_dataloader.dataset.indices': 40,
    'test_dataloader.dataset.indices': 40,
    'train_cfg.max_epochs': 2,
    'train_cfg.val_interval': 2,
    'default_hooks.logger.interval': 1,
}

# Hooks only the tests use, imported by the child processes through custom_imports.
HOOKS_SRC = '''
import os
import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class KillAfterEpochHook(Hook):
    """SIGKILL this process after the checkpoint of epoch `epoch` is written."""
    priority = 'LOWEST'  # after CheckpointHook

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:  # runner.epoch counts from 0 until the epoch ends
            os.kill(os.getpid(), 9)


@HOOKS.register_module(force=True)
class DumpParamsHook(Hook):
    """Save this rank's parameters (and the count of samples it saw) after training."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.seen = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.seen += len(data_batch['inputs'])

    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        params = {k: v.detach().cpu().clone() for k, v in model.named_parameters()}
        torch.save(dict(params=params, rank=get_rank(), world_size=get_world_size(), seen=self.seen),
                   os.path.join(self.out_dir, f'rank{get_rank()}.pth'))
'''


def cfg_options(opts: dict) -> list[str]:
    """``--cfg-options`` arguments for ``opts``."""
    out = []
    for k, v in opts.items():
        if isinstance(v, (list, tuple)):
            v = '[' + ','.join(str(x) for x in v) + ']'
        out.append(f'{k}={v}')
    return ['--cfg-options', *out]


@pytest.fixture
def hooks_dir(tmp_path: Path) -> Path:
    """A folder holding ``cap_test_hooks.py`` (for PYTHONPATH)."""
    d = tmp_path / 'hooks'
    d.mkdir()
    (d / 'cap_test_hooks.py').write_text(textwrap.dedent(HOOKS_SRC))
    return d


def child_env(extra_path: Path | None = None, threads: int = 1) -> dict[str, str]:
    """Environment of a tool run: one thread (deterministic, and fair to the other users)."""
    env = dict(os.environ)
    env['OMP_NUM_THREADS'] = str(threads)
    env['MKL_NUM_THREADS'] = str(threads)
    paths = [str(REPO)] + ([str(extra_path)] if extra_path else [])
    env['PYTHONPATH'] = os.pathsep.join(paths + [env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    return env


def run_tool(cmd: list[str], env: dict[str, str], timeout: float = 300,
             expect_rc: int | None = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if expect_rc is not None and proc.returncode != expect_rc:
        raise AssertionError(f'{cmd} exited {proc.returncode} (expected {expect_rc}):\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def tiny_runner_cfg(config: Path, work_dir: Path, **overrides):
    """An in-process mmengine Config for a tiny run of ``config``."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict({**TINY, **overrides})
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'test_{uuid.uuid4().hex[:8]}'
    cfg.launcher = 'none'
    return cfg


@pytest.fixture(scope='session')
def trained_checkpoint(tmp_path_factory) -> Path:
    """A full mmengine training checkpoint (optimizer, message hub, ...) of a tiny run."""
    import torch
    from mmengine.runner import Runner

    work_dir = tmp_path_factory.mktemp('ckpt_run')
    cfg = tiny_runner_cfg(CFG_CBAM, work_dir, **{'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 5})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Runner.from_cfg(cfg).train()
    finally:
        torch.set_num_threads(threads)
    ckpt = work_dir / 'epoch_1.pth'
    assert ckpt.is_file()
    return ckpt


@pytest.fixture(scope='session')
def kit() -> SimpleNamespace:
    """The helpers above, for the test modules (which should not import conftest)."""
    return SimpleNamespace(
        REPO=REPO, CFG_CBAM=CFG_CBAM, CFG_PLAIN=CFG_PLAIN, TOOLS=TOOLS, TINY=TINY, PY=sys.executable,
        cfg_options=cfg_options, child_env=child_env, run_tool=run_tool, tiny_runner_cfg=tiny_runner_cfg)
