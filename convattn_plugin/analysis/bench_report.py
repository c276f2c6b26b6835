"""The benchmark's tables and result files, and what every column means.

Two tables: one row per model (:func:`format_table`), and per kind that timm implements
too, our overhead beside timm's with the targets (:func:`target_rows`,
:func:`format_targets`). ``python tools/benchmark.py --help`` explains every column.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict
from typing import Optional, Sequence

from ..atomic_files import atomic_write_text
from .benchmark import BenchResult, ModeResult, paired_overhead

__all__ = ['TRAIN_TARGETS', 'MEMORY_TARGETS', 'format_table', 'target_rows', 'format_targets',
           'write_results', 'read_results']

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
