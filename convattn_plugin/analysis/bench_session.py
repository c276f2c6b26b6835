"""One benchmark session as ``tools/benchmark.py`` runs it: measure (or reload), print, write, plot."""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time
from typing import Optional, Sequence

import torch

from .bench_plot import plot_results
from .bench_report import format_table, format_targets, read_results, target_rows, write_results
from .benchmark import run_benchmark
from ..machine import describe_run, load_average, machine_info
from .model_spec import default_models

__all__ = ['benchmark_session', 'import_extra']


def import_extra(spec: str) -> None:
    """Import a module by name, or run a ``.py`` file as a module (it may register kinds)."""
    if spec.endswith('.py'):
        if not os.path.isfile(spec):
            raise ValueError(f'--import {spec!r}: no such file')
        name = os.path.splitext(os.path.basename(spec))[0]
        mod_spec = importlib.util.spec_from_file_location(name, spec)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[name] = module
        mod_spec.loader.exec_module(module)
    else:
        importlib.import_module(spec)


def benchmark_session(
        models: Optional[Sequence[str]] = None,
        arch: str = 'resnet50',
        kinds: Sequence[str] = ('se', 'cbam', 'eca', 'gc'),
        with_timm: bool = True,
        modes: Sequence[str] = ('infer', 'train'),
        batch_size: int = 8,
        img_size: int = 224,
        rounds: int = 7,
        warmup: int = 1,
        device: Optional[str] = None,
        amp: Optional[str] = None,
        channels_last: bool = False,
        threads: Optional[int] = None,
        attn_inplace: bool = False,
        attn_rounds: int = 3,
        imports: Sequence[str] = (),
        seed: int = 0,
        outputs: Optional[Sequence[str]] = None,
        plot: str = '',
        markdown: bool = False,
        progress: bool = True,
        from_json: Optional[str] = None,
) -> int:
    """Run :func:`~convattn_plugin.analysis.benchmark.run_benchmark` and report it; returns 0.

    Arguments are those of ``tools/benchmark.py`` (see its ``--help``). With ``from_json``,
    nothing is measured: the tables and the figure are made from an earlier run's file.
    """
    for spec in imports:
        import_extra(spec)
    if threads:
        torch.set_num_threads(threads)
    if from_json:
        results, meta = read_results(from_json)
        outputs = [p for p in (outputs or []) if os.path.abspath(p) != os.path.abspath(from_json)]
    else:
        device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError(f'--device {device!r}: CUDA is not available here; use --device cpu')
        names = list(models) if models else default_models(arch, kinds, with_timm=with_timm)
        meta = dict(models=names, modes=list(modes), batch_size=batch_size, img_size=img_size, rounds=rounds,
                    warmup=warmup, amp=amp, channels_last=channels_last, attn_inplace=attn_inplace,
                    machine=machine_info(torch.device(device)), started=time.strftime('%Y-%m-%d %H:%M:%S'))
        if device == 'cpu' and (amp or channels_last):
            print('note: --amp / --channels-last are meant for GPUs; measuring them on the CPU anyway',
                  file=sys.stderr)
        t0 = time.time()
        results = run_benchmark(names, modes=modes, batch_size=batch_size, img_size=img_size, rounds=rounds,
                                warmup=warmup, device=device, amp=amp, channels_last=channels_last,
                                attn_inplace=attn_inplace, attn_rounds=attn_rounds, seed=seed, progress=progress)
        meta['seconds'] = round(time.time() - t0, 1)
        meta['load_avg_after'] = load_average()
        if outputs is None:
            outputs = ['outputs/benchmark.csv', 'outputs/benchmark.json']
    print(f'\n{describe_run(meta)}; {meta.get("seconds")} s\n')
    print(format_table(results, markdown=markdown))
    rows = target_rows(results)
    if rows:
        print('\nOurs vs timm\'s implementation of the same kind (overheads over the plain model):\n')
        print(format_targets(rows, markdown=markdown))
    if any(mr.noisy for r in results if r.impl != 'baseline' for mr in r.modes.values()):
        print('\n"?" / "noise": the spread over rounds is larger than the overhead; these figures do not '
              'resolve the difference (more --rounds, or a quieter machine).')
    for path in outputs or []:
        write_results(results, path, meta)
        print(f'wrote {path}')
    if plot:
        plot_results(results, plot, title=describe_run(meta))
        print(f'wrote {plot}')
    return 0

