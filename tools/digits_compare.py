"""The main job: ResNet-18 with CBAM against plain ResNet-18 on scikit-learn's digits.

For each config, runs mmpretrain's packaged ``tools/train.py`` and then its
``tools/test.py`` on the last checkpoint (as separate processes, as a user would), and
prints both top-1 accuracies on the 360 test images with the wall time:

    python tools/digits_compare.py                 # about 1 min on 2 idle CPU cores
    python tools/digits_compare.py --tools project # the same through this repo's tools/

Options after ``--`` go to both ``train.py`` runs (e.g. ``-- --cfg-options randomness.seed=1``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {
    'resnet18_cbam': REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py',
    'resnet18 (plain)': REPO / 'configs/resnet/resnet18-plain_1xb32_digits.py',
}


def tool_path(which: str, name: str) -> Path:
    if which == 'project':
        return REPO / 'tools' / f'{name}.py'
    sys.path.insert(0, str(REPO))  # for a source checkout that is not pip-installed
    from convattn_plugin.mm.mmpretrain_tools import mmpretrain_tool_path
    return mmpretrain_tool_path(name)


def run(cmd: list[str], log: Path) -> None:
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
    if proc.returncode != 0:
        tail = log.read_text().splitlines()[-25:]
        raise SystemExit(f'failed ({proc.returncode}): {" ".join(cmd)}\n' + '\n'.join(tail))


def last_checkpoint(work_dir: Path) -> Path:
    marker = work_dir / 'last_checkpoint'
    if not marker.is_file():
        raise SystemExit(f'no checkpoint in {work_dir}')
    return Path(marker.read_text().strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/digits_compare', help='where runs and logs go')
    parser.add_argument('--tools', choices=['mmpretrain', 'project'], default='mmpretrain',
                        help="mmpretrain's packaged tools/ (default) or this repository's")
    parser.add_argument('train_args', nargs=argparse.REMAINDER, help='extra train.py options, after --')
    args = parser.parse_args()
    extra = [a for a in args.train_args if a != '--']

    root = (REPO / args.work_dir) if not os.path.isabs(args.work_dir) else Path(args.work_dir)
    root.mkdir(parents=True, exist_ok=True)
    train_py, test_py = tool_path(args.tools, 'train'), tool_path(args.tools, 'test')
    results = {}
    t0 = time.time()
    for name, config in CONFIGS.items():
        work_dir = root / config.stem
        t = time.time()
        print(f'[{name}] training {config.relative_to(REPO)} ...', flush=True)
        run([sys.executable, str(train_py), str(config), '--work-dir', str(work_dir), '--no-validate', *extra],
            work_dir.with_suffix('.train.log'))
        metrics_file = work_dir / 'test_metrics.json'
        run([sys.executable, str(test_py), str(config), str(last_checkpoint(work_dir)), '--work-dir', str(work_dir),
             '--out', str(metrics_file), '--out-item', 'metrics'], work_dir.with_suffix('.test.log'))
        metrics = json.loads(metrics_file.read_text())
        results[name] = (metrics['accuracy/top1'], time.time() - t)
        print(f'[{name}] top-1 {metrics["accuracy/top1"]:.2f} % ({time.time() - t:.0f} s)', flush=True)
    total = time.time() - t0

    print('\nscikit-learn digits, 360 test images (32 px), same recipe for both:')
    print(f'{"model":<18} {"top-1 (%)":>9} {"train+test (s)":>15}')
    for name, (top1, secs) in results.items():
        print(f'{name:<18} {top1:>9.2f} {secs:>15.0f}')
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'total wall time {total:.0f} s on {os.cpu_count()} CPU cores (load average now {load:.1f})')


if __name__ == '__main__':
    main()
