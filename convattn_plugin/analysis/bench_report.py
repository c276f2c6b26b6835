"""What the benchmark reports: its tables, result files and figure, and the session that makes them.

* Two tables: one row per model (:func:`format_table`), and per kind that timm implements
  too, our overhead beside timm's with the targets (:func:`target_rows`,
  :func:`format_targets`). ``python tools/benchmark.py --help`` explains every column.
* The figure (:func:`plot_results`): one bar chart per measured overhead, ours beside timm's.
* :func:`benchmark_session`: one session as ``tools/benchmark.py`` runs it: measure (or
  reload), print, write, plot.
"""
from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
import math
import os
import sys
import textwrap
import time
from dataclasses import asdict
from typing import Optional, Sequence

import torch

from ..atomic_files import atomic_write, atomic_write_text
from ..machine import describe_run, load_average, machine_info
from .benchmark import BenchResult, ModeResult, paired_overhead, run_benchmark
from .model_spec import default_models

__all__ = ['TRAIN_TARGETS', 'MEMORY_TARGETS', 'format_table', 'target_rows', 'format_targets',
           'write_results', 'read_results', 'plot_results', 'PANEL_TITLES', 'benchmark_session',
           'import_extra']

# Our training-step overhead over the plain model at most this times timm's, per kind.
TRAIN_TARGETS = {'se': 1.0, 'eca': 1.0, 'cbam': 0.8, 'gc': 0.8}
# Our extra training peak memory over the plain model at most this times timm's extra.
MEMORY_TARGETS = {'se': 1.0, 'eca': 1.0, 'cbam': 0.6, 'gc': 1.0}


def _num(v: float, fmt: str = '.1f') -> str:
    return '-' if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _pct(mr: Optional[ModeResult]) -> str:
    if mr is None or math.isnan(mr.ratio):
        return '-'
    return f'{mr.overhead * 100:+.1f}%' + ('?' if mr.noisy else '')


def format_table(results: Sequence[BenchResult], markdown: bool = False) -> str:
    """One row per model: size, FLOPs, and per mode time, images/s and overhead."""
    modes = list(dict.fromkeys(m for r in results for m in r.modes))
    header = ['model', 'impl', 'params M', 'GFLOPs', 'attn MFLOPs', 'attn ms']
    for mode in modes:
        header += [f'{mode} ms', f'{mode} img/s', f'{mode} +%'] + (['compile s'] if mode == 'compile' else [])
    if 'train' in modes:
        header += ['train MB', 'extra MB']
    rows = []
    for r in results:
        row = [r.name, r.impl, f'{r.params / 1e6:.2f}', f'{r.gflops:.3f}', f'{r.attn_gflops * 1e3:.1f}',
               _num(r.attn_ms, '.2f')]
        for mode in modes:
            mr = r.modes.get(mode)
            if mode.startswith('attn-') and r.impl == 'baseline':
                mr = None  # no attention modules: nothing was timed
            row += [_num(mr.ms if mr else math.nan), _num(mr.images_per_s if mr else math.nan),
                    _pct(mr) if r.impl != 'baseline' else '-']
            if mode == 'compile':
                row.append(_num(mr.warmup_s if mr else math.nan))
        if 'train' in modes:
            row += [_num(r.train_mem_mb), _num(r.mem_extra_mb) if r.impl != 'baseline' else '-']
        rows.append(row)
    return _render(header, rows, markdown)


def _render(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
        return '\n'.join(lines + ['| ' + ' | '.join(row) + ' |' for row in rows])
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = ['  '.join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines)


def _verdict(ok: bool, *noisy: bool) -> str:
    return 'noise' if any(noisy) else ('yes' if ok else 'NO')


def target_rows(results: Sequence[BenchResult]) -> list[dict]:
    """Per kind measured both ways (ours and ``ARCH+timm:KIND``): ratios and targets."""
    timm_by = {(r.baseline, r.kind): r for r in results if r.impl == 'timm'}
    rows = []
    for ours in results:
        theirs = timm_by.get((ours.baseline, ours.kind))
        if ours.impl != 'ours' or theirs is None:
            continue
        row = dict(kind=ours.kind, baseline=ours.baseline, ours=ours.name, timm=theirs.name)
        for mode in ('infer', 'train', 'compile'):
            a, b = ours.modes.get(mode), theirs.modes.get(mode)
            if a is None or b is None:
                continue
            row[f'{mode}_ours'], row[f'{mode}_timm'] = a.overhead, b.overhead
            row[f'{mode}_ratio'] = a.overhead / b.overhead if b.overhead > 0 else math.nan
            row[f'{mode}_noisy'] = a.noisy or b.noisy
        a, b = ours.modes.get('attn-train'), theirs.modes.get('attn-train')
        if a is not None and b is not None and a.runs_ms and b.runs_ms:
            paired = paired_overhead(a.runs_ms, b.runs_ms, 1)  # ours / timm's, round by round
            row.update({'attn-train_ms_ours': a.ms, 'attn-train_ms_timm': b.ms, 'attn-train_ratio': paired.ratio,
                        'attn-train_noisy': paired.ratio_q1 <= TRAIN_TARGETS.get(ours.kind, 1.0) < paired.ratio_q3})
            row['attn-train_met'] = _verdict(paired.ratio <= TRAIN_TARGETS.get(ours.kind, 1.0),
                                             row['attn-train_noisy'])
        a, b = ours.modes.get('attn-infer'), theirs.modes.get('attn-infer')
        if a is not None and b is not None and a.runs_ms and b.runs_ms:
            paired = paired_overhead(a.runs_ms, b.runs_ms, 1)  # ours / timm's, round by round
            row.update({'attn-infer_ms_ours': a.ms, 'attn-infer_ms_timm': b.ms, 'attn-infer_ratio': paired.ratio,
                        'attn-infer_iqr': [paired.ratio_q1, paired.ratio_q3]})
        if 'train_ratio' in row:
            t = TRAIN_TARGETS.get(ours.kind, 1.0)
            row['train_target'] = t
            row['train_met'] = _verdict(row['train_ours'] <= t * row['train_timm'], row['train_noisy'])
        if not math.isnan(ours.mem_extra_mb) and not math.isnan(theirs.mem_extra_mb):
            t = MEMORY_TARGETS.get(ours.kind, 1.0)
            row.update(mem_ours=ours.mem_extra_mb, mem_timm=theirs.mem_extra_mb, mem_target=t,
                       mem_ratio=ours.mem_extra_mb / theirs.mem_extra_mb if theirs.mem_extra_mb > 0 else math.nan)
            row['mem_met'] = _verdict(ours.mem_extra_mb <= t * theirs.mem_extra_mb)
        if 'compile_ours' in row and 'infer_ours' in row:
            row['compile_met'] = _verdict(row['compile_ours'] <= max(row['infer_ours'], 0.0),
                                          row['compile_noisy'], row['infer_noisy'])
        rows.append(row)
    return rows


def format_targets(rows: Sequence[dict], markdown: bool = False) -> str:
    """The target table: per kind, our overhead beside timm's in each measured mode."""
    header, body = ['kind'], [[r['kind']] for r in rows]

    def add(title, key, fmt):
        if any(key in r for r in rows):
            header.append(title)
            for line, r in zip(body, rows):
                line.append(fmt(r[key]) if key in r else '-')

    def pct(v):
        return f'{v * 100:+.1f}%'
    for mode in ('infer', 'train', 'compile'):
        add(f'{mode} ours', f'{mode}_ours', pct)
        add(f'{mode} timm', f'{mode}_timm', pct)
        add(f'{mode} ours / timm', f'{mode}_ratio', lambda v: _num(v, '.2f'))
        if mode == 'train':
            add('target', 'train_target', lambda v: f'<= {v}')
            add('met', 'train_met', str)
    add('attn-train ms ours', 'attn-train_ms_ours', _num)
    add('attn-train ms timm', 'attn-train_ms_timm', _num)
    add('attn-train ours / timm', 'attn-train_ratio', lambda v: _num(v, '.2f'))
    add('attn-train met', 'attn-train_met', str)
    add('attn-infer ms ours', 'attn-infer_ms_ours', _num)
    add('attn-infer ms timm', 'attn-infer_ms_timm', _num)
    add('attn-infer ours / timm', 'attn-infer_ratio', lambda v: _num(v, '.2f'))
    add('attn-infer ratio IQR', 'attn-infer_iqr', lambda v: f'{v[0]:.2f}-{v[1]:.2f}')
    add('extra MB ours', 'mem_ours', _num)
    add('extra MB timm', 'mem_timm', _num)
    add('mem ours / timm', 'mem_ratio', lambda v: _num(v, '.2f'))
    add('mem target', 'mem_target', lambda v: f'<= {v}')
    add('mem met', 'mem_met', str)
    add('compile <= eager', 'compile_met', str)
    return _render(header, body, markdown)


def write_results(results: Sequence[BenchResult], path: str, meta: Optional[dict] = None) -> None:
    """Write ``.json`` (everything, per-round times and ``meta`` included) or ``.csv`` (the table)."""
    if path.endswith('.json'):
        text = json.dumps(dict(meta=meta or {}, results=[asdict(r) for r in results],
                               targets=target_rows(results)), indent=1, default=float)
        atomic_write_text(path, text)
        return
    if not path.endswith('.csv'):
        raise ValueError(f'result file must end in .json or .csv, got {path!r}')
    buf = io.StringIO()
    w = csv.writer(buf)
    modes = list(dict.fromkeys(m for r in results for m in r.modes))
    w.writerow(['name', 'kind', 'impl', 'baseline', 'params', 'gflops', 'attn_gflops', 'attn_ms', 'train_mem_mb',
                'mem_extra_mb'] + [f'{m}_{f}' for m in modes for f in ('ms', 'images_per_s', 'ratio', 'noisy')])
    for r in results:
        w.writerow([r.name, r.kind, r.impl, r.baseline, r.params, r.gflops, r.attn_gflops, r.attn_ms,
                    r.train_mem_mb, r.mem_extra_mb]
                   + [getattr(r.modes.get(m) or ModeResult(), f) for m in modes
                      for f in ('ms', 'images_per_s', 'ratio', 'noisy')])
    atomic_write_text(path, buf.getvalue())


def read_results(path: str) -> tuple[list[BenchResult], dict]:
    """Results and meta back from a ``.json`` written by :func:`write_results`."""
    with open(path) as f:
        data = json.load(f)
    results = []
    for rec in data['results']:
        rec['modes'] = {k: ModeResult(**v) for k, v in rec.get('modes', {}).items()}
        results.append(BenchResult(**rec))
    return results, data.get('meta', {})


PANEL_TITLES = {
    'infer': 'inference overhead',
    'train': 'training step overhead',
    'compile': 'compiled inference overhead',
    'attn-train': 'attention alone, forward + backward',
    'attn-infer': 'attention alone, eval forward',
    'memory': 'training peak memory, extra',
    'attn': 'time inside attention modules',
}


def plot_results(results: Sequence[BenchResult], path: str, title: str = ''):
    """Draw the overheads of every non-baseline model and save a PNG; returns the figure's axes.

    One panel per mode (% over the baseline, whiskers: inter-quartile range of the per-round
    ratios, hatched bars: flagged as noise), the extra training memory (MB) and the time
    inside attention modules (ms). Ours in blue, timm's in orange. The returned list holds
    the drawn axes (already saved and closed), for checking what was drawn.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    attn = [r for r in results if r.impl != 'baseline']
    if not attn:
        raise ValueError('plot_results: nothing to draw, every model is a baseline')
    modes = list(dict.fromkeys(m for r in attn for m in r.modes))
    panels = [(m, PANEL_TITLES[m], 'ms per batch' if m.startswith('attn-') else '% over baseline') for m in modes]
    if any(not math.isnan(r.mem_extra_mb) for r in attn):
        panels.append(('memory', PANEL_TITLES['memory'], 'MB over baseline'))
    if any(not math.isnan(r.attn_ms) for r in attn):
        panels.append(('attn', PANEL_TITLES['attn'], 'ms per forward'))
    ncol = min(len(panels), 3)
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(max(4.0, 1.2 + 0.32 * len(attn)) * ncol, 3.4 * nrow + 0.6),
                             squeeze=False)
    colors = {'ours': '#1f77b4', 'timm': '#ff7f0e'}
    labels = [r.kind + (' (timm)' if r.impl == 'timm' else '') for r in attn]
    xs = list(range(len(attn)))
    drawn = []
    for ax, (key, label, unit) in zip(axes.flat, panels):
        err, hatch = None, [''] * len(attn)
        if key == 'memory':
            vals = [r.mem_extra_mb for r in attn]
        elif key == 'attn':
            vals = [r.attn_ms for r in attn]
        elif key.startswith('attn-'):  # no baseline to divide by: the time itself
            vals = [r.modes[key].ms if key in r.modes else math.nan for r in attn]
        else:
            mrs = [r.modes.get(key) for r in attn]
            vals = [mr.overhead * 100 if mr else math.nan for mr in mrs]
            err = [[max(v - (mr.ratio_q1 - 1) * 100, 0) if mr else 0 for v, mr in zip(vals, mrs)],
                   [max((mr.ratio_q3 - 1) * 100 - v, 0) if mr else 0 for v, mr in zip(vals, mrs)]]
            hatch = ['//' if mr and mr.noisy else '' for mr in mrs]
        bars = ax.bar(xs, vals, 0.75, color=[colors.get(r.impl, 'grey') for r in attn], yerr=err, capsize=2)
        for bar, h in zip(bars, hatch):
            bar.set_hatch(h)
        ax.axhline(0, color='black', lw=0.8)
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, rotation=45 if len(attn) > 5 else 0,
                           ha='right' if len(attn) > 5 else 'center', fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.set_ylabel(unit, fontsize=8)
        ax.grid(axis='y', alpha=0.3)
        drawn.append(ax)
    for ax in list(axes.flat)[len(panels):]:
        fig.delaxes(ax)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    handles.append(plt.Rectangle((0, 0), 1, 1, facecolor='white', edgecolor='black', hatch='//'))
    drawn[0].legend(handles, ['ours', 'timm', 'noise (spread > effect)'], fontsize=7)
    if title:
        fig.suptitle('\n'.join(textwrap.wrap(title, int(fig.get_figwidth() * 14))), fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format='png'))
    plt.close(fig)
    return drawn


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
    bad = [p for p in outputs or [] if not p.endswith(('.json', '.csv'))]
    if bad:  # before minutes of measuring, not after
        raise ValueError(f'--out {" ".join(bad)}: a result file ends in .json (everything) or .csv (the table)')
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
