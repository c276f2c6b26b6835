"""The main job: ResNet-18 with CBAM against plain ResNet-18 on scikit-learn's digits.

For each config, runs mmpretrain's packaged tools/train.py and then its tools/test.py on
the last checkpoint (as separate processes, as a user would), shows the training progress
(epoch, iteration, loss, time left), and prints both top-1 accuracies on the 360 test
images with the machine, the thread count and the wall time:

    python tools/digits_compare.py                 # times measured with it: docs/openmmlab.md
    python tools/digits_compare.py --tools project # the same through this repo's tools/

Each training process uses OMP_NUM_THREADS threads if you set it, else every available
core (--threads overrides both). On a machine busy with other jobs, one thread is often
faster: OMP_NUM_THREADS=1 python tools/digits_compare.py. Options after -- go to both
train.py runs (e.g. -- --cfg-options randomness.seed=1).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f'--threads must be a positive integer, got {text!r}')
    return int(text)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default='work_dirs/digits_compare', help='where runs and logs go')
    parser.add_argument('--tools', choices=['mmpretrain', 'project'], default='mmpretrain',
                        help="mmpretrain's packaged tools/ (default) or this repository's")
    parser.add_argument('--threads', type=positive_int, default=None,
                        help='threads per training process (default: OMP_NUM_THREADS, else all available cores)')
    parser.add_argument('train_args', nargs=argparse.REMAINDER, help='extra train.py options, after --')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(REPO))  # a source checkout that is not pip-installed
    from convattn_plugin.machine import load_average, machine_summary
    from convattn_plugin.mm.digits_compare import compare_on_digits, thread_count
    from convattn_plugin.mm.mmpretrain_tools import mmpretrain_tool_path

    threads, source = (args.threads, '--threads') if args.threads else thread_count()
    if args.tools == 'project':
        train_py, test_py = REPO / 'tools' / 'train.py', REPO / 'tools' / 'test.py'
    else:
        train_py, test_py = mmpretrain_tool_path('train'), mmpretrain_tool_path('test')
    work_dir = Path(args.work_dir) if os.path.isabs(args.work_dir) else REPO / args.work_dir
    started = datetime.now(timezone.utc)
    print(f'started {started:%Y-%m-%d %H:%M:%S} UTC on {machine_summary()}', flush=True)
    print(f'{threads} thread(s) per process ({source})', flush=True)

    t0 = time.time()
    try:
        results = compare_on_digits(work_dir, train_py, test_py, [a for a in args.train_args if a != '--'],
                                    threads=threads, echo=lambda line: print(line, flush=True))
    except RuntimeError as e:  # a tool failed: its command and the tail of its log
        raise SystemExit(str(e)) from None
    print('\nscikit-learn digits, 360 test images (32 px), same recipe for both:')
    print(f'{"model":<18} {"top-1 (%)":>9} {"train+test (s)":>15}')
    for name, (top1, secs) in results.items():
        print(f'{name:<18} {top1:>9.2f} {secs:>15.0f}')
    now = load_average()
    load = f', load average now {now[0]:.1f}' if now else ''
    print(f'total wall time {time.time() - t0:.0f} s with {threads} thread(s) per process{load}; '
          f'finished {datetime.now(timezone.utc):%H:%M:%S} UTC')


if __name__ == '__main__':
    main()
