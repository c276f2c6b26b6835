"""What attention costs, on this machine: FLOPs, inference, training step, compiled, memory.

    python tools/benchmark.py                         # resnet50 vs our se/cbam/eca/gc and timm's
    python tools/benchmark.py --modes train --arch resnet18 --kinds cbam --rounds 9
    python tools/benchmark.py --modes attn-train --rounds 15 --threads 1       # the attention alone
    python tools/benchmark.py --kinds se cbam eca --modes infer attn-infer --threads 1   # inference
    python tools/benchmark.py --modes infer compile --threads 2
    python tools/benchmark.py --device cuda --amp bf16 --channels-last --modes infer train compile

Model names: a timm name (resnet50, resnet50_se), ARCH+KIND (our KIND in timm's ARCH)
or ARCH+timm:KIND (timm's own KIND). Each is compared with its plain baseline, which joins
the run. Every mode runs all models interleaved, once per round in a shuffled order, so
the ratios to the baseline come from the same rounds; the time inside attention modules
is measured in a separate pass (hooks never run in the timed rounds). Method in detail:
convattn_plugin/analysis/benchmark.py.

Columns of the first table (one row per model):
  impl          baseline (plain model), ours, or timm
  params M      parameters, millions
  GFLOPs        per image, eval forward, every operator counted (1 multiply-add = 2 FLOPs)
  attn MFLOPs   the part of GFLOPs inside attention modules, millions
  attn ms       ms per eval forward inside the attention modules (separate pass, timing hooks)
  MODE ms       median ms per call (a batch) over the rounds. MODE: infer = eval forward,
                train = forward + backward + SGD step, compile = infer of torch.compile(model),
                attn-train = the attention modules alone, forward + backward, each on an input
                of the shape it sees in the model (no ratio to the plain model: it has none),
                attn-infer = the same modules alone, eval forward
  MODE img/s    images per second: batch size / median time
  MODE +%       overhead over the baseline: median over rounds of (time / baseline's time in
                the same round) - 1. A trailing "?" flags noise: the spread of those ratios
                (inter-quartile range) is larger than the overhead, or there were < 3 rounds
  compile s     seconds of the first compiled call (compiling; never in the rounds)
  train MB      peak memory of one training step above what was live before it: activations
                kept for backward, new gradients, temporaries (CUDA: max_memory_allocated;
                CPU: torch.profiler allocation events, netted per operator)
  extra MB      train MB minus the baseline's: what the attention adds

Columns of the second table (per kind that timm implements too):
  kind                    the attention kind, measured as ours and as timm's
  MODE ours, MODE timm    our / timm's overhead over the same plain model in that mode
  MODE ours / timm        their quotient: below 1, ours costs less
  target, met             train: ours / timm at most 0.8 (cbam, gc) or 1.0 (se, eca); met is
                          yes, NO, or "noise" when an overhead compared is flagged as noise
  attn-train ms ours, attn-train ms timm, attn-train ours / timm, attn-train met
                          the attention's own training time, ours / timm's (median of per-round
                          ratios) against the train target; "noise" when the target lies inside
                          the ratios' inter-quartile range
  attn-infer ms ours, attn-infer ms timm, attn-infer ours / timm, attn-infer ratio IQR
                          the same for the attention's own inference time, with the
                          inter-quartile range of the per-round ratios (no target)
  extra MB ours, extra MB timm
                          extra training memory of each, over the plain model
  mem ours / timm, mem target, mem met
                          their quotient; target 0.6 for cbam, 1.0 for the others
  compile <= eager        our compiled overhead at most our eager (infer) overhead
"""
from __future__ import annotations

import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    doc = __doc__.split('\n', 1)
    p = argparse.ArgumentParser(description=doc[0], epilog=doc[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--models', nargs='+', default=None,
                   help='model names (default: ARCH, and ARCH with each of --kinds: ours and timm\'s)')
    p.add_argument('--arch', default='resnet50', help='baseline of the default model list (default resnet50)')
    p.add_argument('--kinds', nargs='+', default=['se', 'cbam', 'eca', 'gc'], help='kinds of the default list')
    p.add_argument('--no-timm', action='store_true', help='leave timm\'s implementations out of the default list')
    p.add_argument('--modes', nargs='+', default=['infer', 'train'],
                   choices=['infer', 'train', 'compile', 'attn-train', 'attn-infer'],
                   help='what to time, in this order (default: infer train)')
    p.add_argument('--compile', action='store_true', help='add the compile mode (torch.compile, default mode)')
    p.add_argument('--batch-size', type=_positive, default=8, help='images per call (default 8)')
    p.add_argument('--img-size', type=_positive, default=224, help='input height and width (default 224)')
    p.add_argument('--rounds', type=_positive, default=7, help='timed rounds per mode (default 7)')
    p.add_argument('--warmup', type=_positive, default=1, help='untimed calls per model and mode (default 1)')
    p.add_argument('--attn-rounds', type=int, default=3, help='forwards of the attention-time pass (0: skip)')
    p.add_argument('--device', default=None, help='cpu or cuda (default: cuda if available)')
    p.add_argument('--amp', choices=['bf16', 'fp16'], default=None, help='autocast dtype (GPU)')
    p.add_argument('--channels-last', action='store_true', help='channels-last memory format (GPU)')
    p.add_argument('--threads', type=_positive, default=None, help='torch.set_num_threads (default: torch\'s)')
    p.add_argument('--attn-inplace', action='store_true',
                   help='our gates overwrite their input in inference (attn_kwargs=dict(inplace=True)); '
                        'default: out of place, as the models are built by default')
    p.add_argument('--import', dest='imports', nargs='+', default=[], metavar='MODULE_OR_FILE',
                   help='modules or .py files to import first (e.g. ones that register_attention() own kinds)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', nargs='*', default=None,
                   help='result files: .csv (table) and/or .json (everything, per-round times included); '
                        'default outputs/benchmark.csv outputs/benchmark.json (none with --from-json)')
    p.add_argument('--plot', default='outputs/benchmark.png', help='PNG of the overheads ("" for none)')
    p.add_argument('--markdown', action='store_true', help='print Markdown tables (as in docs/cost.md)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    p.add_argument('--from-json', default=None, metavar='JSON',
                   help='measure nothing: tables and plot of an earlier run\'s .json')
    args = p.parse_args(argv)
    bad = [o for o in args.out or [] if not o.endswith(('.json', '.csv'))]
    if bad:
        p.error(f'--out {" ".join(bad)}: a result file ends in .json (everything) or .csv (the table)')
    if args.compile and 'compile' not in args.modes:
        args.modes.append('compile')
    return args


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be a positive integer, got {text!r}')
    return value


def main(argv=None) -> int:
    args = parse_args(argv)
    from convattn_plugin.analysis.bench_report import benchmark_session

    return benchmark_session(
        models=args.models, arch=args.arch, kinds=args.kinds, with_timm=not args.no_timm, modes=args.modes,
        batch_size=args.batch_size, img_size=args.img_size, rounds=args.rounds, warmup=args.warmup,
        device=args.device, amp=args.amp, channels_last=args.channels_last, threads=args.threads,
        attn_inplace=args.attn_inplace, attn_rounds=args.attn_rounds, imports=args.imports, seed=args.seed,
        outputs=args.out, plot=args.plot, markdown=args.markdown, progress=not args.no_progress,
        from_json=args.from_json)


if __name__ == '__main__':
    sys.exit(main())
