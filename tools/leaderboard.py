"""Which attention helps, and at what cost: train the plain backbone and each attention
kind with several seeds on real data, and report accuracy with its spread against cost.

    python tools/leaderboard.py --data digits                 # minutes on 2 CPU cores
    python tools/leaderboard.py --data fashion-mnist          # apt-get install dataset-fashion-mnist
    python tools/leaderboard.py --data digits --kinds se cbam --seeds 2

Runs go seed-major (every model with seed 0, then seed 1, ...); each finished run is
recorded in <work-dir>/runs/<model>/seed<N>.json, so running the same command again after
an interruption resumes where it stopped (delete a file to redo that run). At the end the
cost of every model is measured in the same session and <work-dir>/leaderboard.md, .csv,
.json and .png are written.

Table columns: top-1 % (mean ± sample std over seeds); Δ top-1: the paired difference to
the baseline over the seeds (percentage points) with its 95 % t interval; reading: 'better'
or 'worse' when the interval excludes 0, else 'within noise'; params, FLOPs (per image,
attention operators included) and latency (eval forward, batch 32, median of paired
per-round ratios to the baseline, interquartile range in brackets) as overheads over the
baseline.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', choices=['digits', 'fashion-mnist'], default='digits',
                   help='data set: scikit-learn digits (embedded) or Fashion-MNIST (default: %(default)s)')
    p.add_argument('--data-root', default=None,
                   help='folder with the four Fashion-MNIST IDX files, gzipped or not '
                        '(default: /usr/share/datasets/fashion-mnist)')
    p.add_argument('--kinds', nargs='+', default=None, metavar='KIND',
                   help='attention kinds to compare with the plain baseline (default: every registered kind; '
                        '`python -m convattn_plugin.layers` lists them)')
    p.add_argument('--seeds', type=int, default=3, help='seeds per model: 0 .. N-1 (default: %(default)s)')
    p.add_argument('--work-dir', default=None,
                   help='where runs, logs and reports go (default: work_dirs/leaderboard_<data>_<profile>)')
    p.add_argument('--profile', choices=['cpu', 'gpu'], default='cpu',
                   help='recipe: cpu = quarter-width ResNet-18 sized for a few CPU cores; gpu = full recipe '
                        '(CIFAR-style stem, all images, AMP, channels_last; needs CUDA) (default: %(default)s)')
    p.add_argument('--jobs', type=int, default=1,
                   help='runs trained at once in separate processes (default: %(default)s)')
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads per run (default: $OMP_NUM_THREADS if set, else cores / jobs)')
    p.add_argument('--no-cost', action='store_true', help='skip the params / FLOPs / latency measurement')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    threads = args.threads
    if threads is None:
        env = os.environ.get('OMP_NUM_THREADS')
        threads = int(env) if env and env.isdigit() else max(1, (os.cpu_count() or 1) // max(1, args.jobs))
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # a source checkout
    from convattn_plugin.leaderboard.plan import ResultFileError
    from convattn_plugin.leaderboard.sweep import preflight, run_leaderboard

    try:
        preflight(args.data, args.profile, args.kinds, args.seeds, args.data_root, args.jobs)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        raise SystemExit(f'leaderboard: error: {e}') from None
    command = 'python tools/leaderboard.py ' + ' '.join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    try:
        paths = run_leaderboard(
            data=args.data, kinds=args.kinds, seeds=args.seeds, work_dir=args.work_dir, data_root=args.data_root,
            profile=args.profile, jobs=args.jobs, threads=threads, measure_cost=not args.no_cost,
            progress=not args.no_progress, command=command.strip())
    except ResultFileError as e:  # a recorded run read back on resume: the file and the field are named
        raise SystemExit(f'leaderboard: error: {e}') from None
    with open(paths['md']) as f:
        print(f.read())
    print('written: ' + ', '.join(paths.values()))


if __name__ == '__main__':
    main()
