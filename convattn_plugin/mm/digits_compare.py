"""The main job behind ``tools/digits_compare.py``: ResNet-18 with CBAM against plain
ResNet-18 on scikit-learn's digits, trained and tested by mmpretrain's tools.

Each config is trained by ``train.py`` and its last checkpoint tested by ``test.py``, as
separate processes (as a user would run them). Their full output goes to a log file; the
terminal gets one line per logger record (epoch, iteration, loss, time left) and the
results. The children use :func:`thread_count` threads.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import convattn_plugin

from ..machine import available_cores
from .hub import configs_root

__all__ = ['DIGITS_CONFIGS', 'thread_count', 'compare_on_digits']

# name shown -> config, relative to configs/
DIGITS_CONFIGS = {
    'resnet18_cbam': 'resnet_cbam/resnet18-cbam_1xb32_digits.py',
    'resnet18 (plain)': 'resnet/resnet18-plain_1xb32_digits.py',
}

# mmengine's logger line, e.g. "Epoch(train) [2][20/45]  lr: ...  eta: 0:00:41  ...  loss: 0.61"
_MAX_EPOCHS = re.compile(r'\bmax_epochs=(\d+)')
_TRAIN_RECORD = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\].*?eta: (\S+).*?\sloss: ([\d.]+)')


def thread_count(env: Optional[dict] = None) -> tuple[int, str]:
    """Threads for the training processes and where the number comes from.

    ``OMP_NUM_THREADS`` if the user set it, else every available core.

    Raises:
        ValueError: ``OMP_NUM_THREADS`` is set but not a positive integer.
    """
    env = os.environ if env is None else env
    value = env.get('OMP_NUM_THREADS', '').strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f'OMP_NUM_THREADS must be a positive integer, got {value!r}')
        return int(value), 'OMP_NUM_THREADS from the environment'
    return available_cores(), 'all available cores'


def _run_logged(cmd: list[str], log: Path, env: dict, on_line: Callable[[str], None]) -> None:
    with open(log, 'w') as f:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for line in proc.stdout:
            f.write(line)
            on_line(line)
        rc = proc.wait()
    if rc != 0:
        tail = '\n'.join(log.read_text().splitlines()[-25:])
        raise RuntimeError(f'failed ({rc}): {" ".join(cmd)}\n(full output in {log})\n{tail}')


def _last_checkpoint(work_dir: Path) -> Path:
    marker = work_dir / 'last_checkpoint'
    if not marker.is_file():
        raise RuntimeError(f'no checkpoint in {work_dir} (train.py wrote no last_checkpoint)')
    return Path(marker.read_text().strip())


def compare_on_digits(work_dir: Path, train_py: Path, test_py: Path, train_args: Sequence[str] = (),
                      threads: Optional[int] = None, echo: Callable[[str], None] = print) -> dict:
    """Train and test both digits configs; return ``{name: (top1 %, seconds)}``.

    Args:
        work_dir: One folder per config and its ``.train.log`` / ``.test.log`` go here.
        train_py / test_py: mmpretrain's packaged tools or the project's ``tools/``.
        train_args: Extra options for both ``train.py`` runs.
        threads: Threads per process; defaults to :func:`thread_count`.
        echo: Receives the progress and result lines.
    """
    root = configs_root()
    if root is None:
        raise FileNotFoundError('the project\'s configs are not found: set CONVATTN_CONFIGS to a configs/ folder')
    if threads is None:
        threads, _ = thread_count()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    package_parent = str(Path(convattn_plugin.__file__).resolve().parents[1])  # the same copy in the children
    env['PYTHONPATH'] = os.pathsep.join(p for p in (package_parent, env.get('PYTHONPATH', '')) if p)
    work_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, rel in DIGITS_CONFIGS.items():
        config, run_dir, t = root / rel, work_dir / Path(rel).stem, time.time()
        echo(f'[{name}] training {rel} (log: {run_dir.with_suffix(".train.log")})')

        epochs = ['?']  # from the config that train.py logs before training

        def progress(line: str, name: str = name, epochs: list = epochs) -> None:
            m = _MAX_EPOCHS.search(line)
            if m:
                epochs[0] = m.group(1)
            m = _TRAIN_RECORD.search(line)
            if m:
                epoch, it, n, eta, loss = m.groups()
                echo(f'[{name}] epoch {epoch}/{epochs[0]}  iteration {it}/{n}  loss {float(loss):.3f}  '
                     f'time left {eta}')

        _run_logged([sys.executable, str(train_py), str(config), '--work-dir', str(run_dir), '--no-validate',
                     *train_args], run_dir.with_suffix('.train.log'), env, progress)
        echo(f'[{name}] testing the last checkpoint on the 360 test images')
        metrics_file = run_dir / 'test_metrics.json'
        _run_logged([sys.executable, str(test_py), str(config), str(_last_checkpoint(run_dir)), '--work-dir',
                     str(run_dir), '--out', str(metrics_file), '--out-item', 'metrics'],
                    run_dir.with_suffix('.test.log'), env, lambda line: None)
        top1 = json.loads(metrics_file.read_text())['accuracy/top1']
        results[name] = (top1, time.time() - t)
        echo(f'[{name}] top-1 {top1:.2f} % ({time.time() - t:.0f} s)')
    return results
