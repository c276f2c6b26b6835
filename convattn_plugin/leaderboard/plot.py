"""The leaderboard's Pareto plot: top-1 against latency overhead, with error bars.

One point per model at (latency overhead over the baseline in percent, mean top-1 in
percent); vertical bars span +- one standard deviation over the seeds, horizontal bars
the quartiles of the paired latency ratios. The baseline sits at 0 %. A line joins the
Pareto front: the models no other model beats in both accuracy and latency.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..atomic_files import atomic_write
from .plan import BASELINE

__all__ = ['pareto_front', 'draw_pareto', 'plot_pareto']


def pareto_front(points: Sequence[tuple[str, float, float]]) -> list[str]:
    """Names on the front of ``(name, cost, accuracy)`` points (low cost, high accuracy), by cost."""
    front, best = [], -math.inf
    for name, cost, acc in sorted(points, key=lambda p: (p[1], -p[2])):
        if acc > best:
            front.append(name)
            best = acc
    return front


def draw_pareto(rows: Sequence[Mapping[str, Any]], title: str = ''):
    """The figure of leaderboard ``rows`` (:func:`.report.leaderboard_rows`); one axes."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure registry

    pts = [r for r in rows if not math.isnan(r['latency_overhead']) and not math.isnan(r['top1_mean'])]
    if not pts:
        raise ValueError('plot_pareto: no model has both a latency overhead and a top-1')
    fig = Figure(figsize=(7.5, 5.0), dpi=120)
    ax = fig.subplots()
    for r in pts:
        x, y = r['latency_overhead'] * 100, r['top1_mean']
        yerr = 0.0 if math.isnan(r['top1_std']) else r['top1_std']
        q1, q3 = r['latency_overhead_q1'] * 100, r['latency_overhead_q3'] * 100
        xerr = [[max(0.0, x - q1)], [max(0.0, q3 - x)]] if r['model'] != BASELINE else None
        is_base = r['model'] == BASELINE
        ax.errorbar(x, y, yerr=yerr, xerr=xerr, fmt='s' if is_base else 'o', ms=7 if is_base else 5,
                    color='black' if is_base else 'tab:blue', ecolor='0.6', capsize=3)
        ax.annotate(r['model'], (x, y), textcoords='offset points', xytext=(5, 4), fontsize=8)
    front = pareto_front([(r['model'], r['latency_overhead'], r['top1_mean']) for r in pts])
    by_name = {r['model']: r for r in pts}
    ax.plot([by_name[n]['latency_overhead'] * 100 for n in front], [by_name[n]['top1_mean'] for n in front],
            '--', color='tab:orange', lw=1, label='Pareto front')
    base = by_name.get(BASELINE)
    if base is not None:
        ax.axhline(base['top1_mean'], color='0.8', lw=0.8, zorder=0)
    ax.axvline(0.0, color='0.8', lw=0.8, zorder=0)
    ax.set_xlabel('latency overhead over the baseline (%)')
    ax.set_ylabel('top-1 accuracy (%), mean ± std over seeds')
    ax.set_title(title or 'Accuracy vs latency overhead')
    ax.legend(loc='lower right', fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def plot_pareto(rows: Sequence[Mapping[str, Any]], path: str, title: str = '') -> str:
    """Draw :func:`draw_pareto` to a PNG at ``path`` (atomically); returns ``path``."""
    fig = draw_pareto(rows, title)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format='png'))
    return path
