"""What attention costs, on this machine: params, FLOPs, latency, training step, memory.

    python tools/benchmark.py                       # resnet50 vs our se/cbam/eca/gc and timm's
    python tools/benchmark.py --models resnet18 resnet18+cbam resnet18+timm:cbam --batch-size 4
    python tools/benchmark.py --device cuda --amp --channels-last

Model names: a timm name (``resnet50``, ``resnet50_se``), ``ARCH+KIND`` (our KIND in
ARCH's blocks) or ``ARCH+timm:KIND`` (timm's own KIND). Each is compared with its
plain baseline. See ``convattn_plugin/analysis/benchmark.py`` for how each figure is
measured.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

import torch

from convattn_plugin.analysis.benchmark import (
    default_models, describe_run, format_speed_target, format_table, machine_info, plot_results,
    read_results, run_benchmark, speed_target_rows, write_results,
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('--models', nargs='+', default=None,
                   help='model names (default: ARCH and ARCH with se, cbam, eca, gc: ours and timm\'s)')
    p.add_argument('--arch', default='resnet50', help='baseline of the default model list')
    p.add_argument('--kinds', nargs='+', default=['se', 'cbam', 'eca', 'gc'], help='kinds of the default list')
    p.add_argument('--no-timm', action='store_true', help='leave timm\'s implementations out of the default list')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--rounds', type=int, default=7, help='timed inference rounds (median reported)')
    p.add_argument('--train-rounds', type=int, default=3, help='timed training-step rounds; 0: skip training')
    p.add_argument('--warmup', type=int, default=1, help='untimed calls per model before timing')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--amp', action='store_true', help='autocast (bf16 / fp16) for inference and training')
    p.add_argument('--channels-last', action='store_true', help='channels-last memory format')
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (default: torch\'s)')
    p.add_argument('--attn-inplace', action='store_true',
                   help='also let the gates of ARCH+KIND models overwrite their input in inference '
                        '(module.inplace = True); the registered ResNet models (resnet50_se) always do')
    p.add_argument('--import', dest='imports', nargs='+', default=[], metavar='MODULE_OR_FILE',
                   help='modules or .py files to import first, e.g. ones that register_attention() own kinds')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', nargs='*', default=None,
                   help='result files: .csv (table) and/or .json (all, with per-round times); '
                        'default outputs/benchmark.csv outputs/benchmark.json (none with --from-json)')
    p.add_argument('--plot', default='outputs/benchmark.png', help='PNG of the overheads ("" for none)')
    p.add_argument('--markdown', action='store_true', help='print Markdown tables (for README.md)')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--from-json', default=None, metavar='JSON',
                   help='measure nothing: print the tables and plot the results of an earlier run\'s .json')
    args = p.parse_args(argv)
    if (args.amp or args.channels_last) and args.device == 'cpu':
        print('note: --amp / --channels-last are meant for GPUs; measuring them on CPU anyway', file=sys.stderr)
    return args


def import_extra(spec: str) -> None:
    """Import a module by name, or run a ``.py`` file as a module (it may register kinds)."""
    if spec.endswith('.py'):
        import importlib.util
        name = os.path.splitext(os.path.basename(spec))[0]
        mod_spec = importlib.util.spec_from_file_location(name, spec)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = module
        mod_spec.loader.exec_module(module)
    else:
        importlib.import_module(spec)


def main(argv=None) -> int:
    args = parse_args(argv)
    for spec in args.imports:
        import_extra(spec)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.from_json:
        results, meta = read_results(args.from_json)
        return report(results, meta, args, outputs=[p for p in (args.out or []) if p != args.from_json])
    models = args.models or default_models(args.arch, args.kinds, with_timm=not args.no_timm)
    meta = dict(models=models, batch_size=args.batch_size, img_size=args.img_size, rounds=args.rounds,
                train_rounds=args.train_rounds, warmup=args.warmup, amp=args.amp,
                channels_last=args.channels_last, attn_inplace=args.attn_inplace,
                machine=machine_info(torch.device(args.device)),
                started=time.strftime('%Y-%m-%d %H:%M:%S'))
    t0 = time.time()
    results = run_benchmark(
        models, batch_size=args.batch_size, img_size=args.img_size, rounds=args.rounds,
        train_rounds=args.train_rounds, warmup=args.warmup, device=args.device, amp=args.amp,
        channels_last=args.channels_last, train=args.train_rounds > 0, attn_inplace=args.attn_inplace,
        seed=args.seed, progress=not args.no_progress)
    meta['seconds'] = round(time.time() - t0, 1)
    meta['load_avg_after'] = [round(v, 2) for v in os.getloadavg()] if hasattr(os, 'getloadavg') else None
    return report(results, meta, args, outputs=args.out if args.out is not None
                  else ['outputs/benchmark.csv', 'outputs/benchmark.json'])


def report(results, meta: dict, args: argparse.Namespace, outputs) -> int:
    """Print the tables, write the files and the plot."""
    print(f'\n{describe_run(meta)}; {meta["seconds"]} s'
          f'{"; our gates in place in inference" if meta.get("attn_inplace") else ""}\n')
    print(format_table(results, markdown=args.markdown))
    target = speed_target_rows(results)
    if target:
        print('\nOur overhead relative to timm\'s implementation of the same kind (latency: median of paired '
              'per-round ratios; attn ms: time inside the attention modules per forward):\n')
        print(format_speed_target(target, markdown=args.markdown))
    for path in outputs:
        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
        write_results(results, path, meta)
        print(f'wrote {path}')
    if args.plot:
        os.makedirs(os.path.dirname(args.plot) or '.', exist_ok=True)
        plot_results(results, args.plot, title=describe_run(meta))
        print(f'wrote {args.plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
