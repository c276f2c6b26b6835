"""The leaderboard table: one row per model, written as Markdown, CSV and JSON.

A row holds the model's top-1 over its seeds (mean, sample standard deviation), the paired
difference to the baseline with its t interval and what it says (:mod:`.stats`), and the
cost next to the baseline (:mod:`.cost`). Columns (percent where marked):

``model``, ``seeds``, ``top1_mean``, ``top1_std``, ``diff``, ``diff_low``, ``diff_high``,
``verdict``, ``params``, ``params_overhead``, ``mflops``, ``flops_overhead``,
``latency_ms_per_image``, ``latency_overhead`` (and its quartiles ``_q1``/``_q3``).
"""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Mapping, Optional, Sequence

from .cost import ModelCost
from ..atomic_files import atomic_write_text
from .plan import BASELINE
from .stats import paired_difference, summarize, verdict

__all__ = ['COLUMNS', 'leaderboard_rows', 'format_markdown', 'format_csv', 'write_reports']

COLUMNS = ('model', 'seeds', 'top1_mean', 'top1_std', 'diff', 'diff_low', 'diff_high', 'verdict', 'params',
           'params_overhead', 'mflops', 'flops_overhead', 'latency_ms_per_image', 'latency_overhead',
           'latency_overhead_q1', 'latency_overhead_q3')


def leaderboard_rows(results: Sequence[Mapping[str, Any]], costs: Optional[Mapping[str, ModelCost]] = None,
                     level: float = 0.95) -> list[dict[str, Any]]:
    """One row per model of ``results`` (run records with ``model``, ``seed``, ``top1``).

    The baseline comes first, the others by mean top-1, best first. Overheads are
    fractions (0.1 = +10 %); missing costs are ``nan``.
    """
    by_model: dict[str, dict[int, float]] = {}
    for r in results:
        by_model.setdefault(r['model'], {})[int(r['seed'])] = float(r['top1'])
    base = by_model.get(BASELINE, {})
    rows = []
    for model, per_seed in by_model.items():
        s = summarize([per_seed[k] for k in sorted(per_seed)])
        d = paired_difference(per_seed, base, level) if model != BASELINE else None
        c = (costs or {}).get(model)
        rows.append(dict(
            model=model, seeds=s.n, top1_mean=s.mean, top1_std=s.std,
            diff=d.mean if d else 0.0, diff_low=d.low if d else math.nan, diff_high=d.high if d else math.nan,
            verdict=verdict(d) if d else 'reference',
            params=c.params if c else math.nan, params_overhead=c.params_overhead if c else math.nan,
            mflops=c.mflops if c else math.nan, flops_overhead=c.flops_overhead if c else math.nan,
            latency_ms_per_image=c.latency_ms_per_image if c else math.nan,
            latency_overhead=c.latency_overhead if c else math.nan,
            latency_overhead_q1=c.latency_overhead_q1 if c else math.nan,
            latency_overhead_q3=c.latency_overhead_q3 if c else math.nan))
    rows.sort(key=lambda r: (r['model'] != BASELINE, -r['top1_mean']))
    return rows


def _f(v: float, fmt: str) -> str:
    return '-' if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _pct(v: float) -> str:
    return _f(v * 100 if isinstance(v, (int, float)) else v, '+.1f')


def format_markdown(rows: Sequence[Mapping[str, Any]], level: float = 0.95) -> str:
    """The table in Markdown (top-1 and differences in percentage points)."""
    ci = f'{round(level * 100)} % CI'
    header = ['model', 'seeds', 'top-1 % (mean ± std)', 'Δ top-1 vs baseline', ci, 'reading', 'params (M)',
              'params +%', 'MFLOPs', 'FLOPs +%', 'latency +% (IQR)']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    for r in rows:
        interval = f'[{_f(r["diff_low"], "+.2f")}, {_f(r["diff_high"], "+.2f")}]' \
            if not math.isnan(r['diff_low']) else '-'
        latency = _pct(r['latency_overhead'])
        if not math.isnan(r['latency_overhead_q1']) and r['model'] != BASELINE:
            latency += f' ({_pct(r["latency_overhead_q1"])}, {_pct(r["latency_overhead_q3"])})'
        cells = [r['model'], str(r['seeds']), f'{_f(r["top1_mean"], ".2f")} ± {_f(r["top1_std"], ".2f")}',
                 '-' if r['model'] == BASELINE else _f(r['diff'], '+.2f'), interval, r['verdict'],
                 _f(r['params'] / 1e6 if isinstance(r['params'], (int, float)) else r['params'], '.3f'),
                 _pct(r['params_overhead']), _f(r['mflops'], '.1f'), _pct(r['flops_overhead']), latency]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def format_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows as CSV with the :data:`COLUMNS` header (raw numbers, ``nan`` where missing)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    return buf.getvalue()


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def write_reports(out_prefix: str, rows: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]],
                  meta: Mapping[str, Any], level: float = 0.95) -> dict[str, str]:
    """Write ``<prefix>.md``, ``.csv`` and ``.json`` (atomically); returns the paths by format."""
    md = f'{meta.get("title", "Leaderboard")}\n\n' if meta.get('title') else ''
    md += format_markdown(rows, level)
    if meta.get('notes'):
        md += '\n' + '\n'.join(f'- {n}' for n in meta['notes']) + '\n'
    paths = dict(md=out_prefix + '.md', csv=out_prefix + '.csv', json=out_prefix + '.json')
    atomic_write_text(paths['md'], md)
    atomic_write_text(paths['csv'], format_csv(rows))
    payload = dict(meta=dict(meta), columns=list(COLUMNS), rows=[dict(r) for r in rows], runs=[dict(r) for r in runs])
    atomic_write_text(paths['json'], json.dumps(_json_safe(payload), indent=2) + '\n')
    return paths
