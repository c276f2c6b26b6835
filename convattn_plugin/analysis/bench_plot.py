"""The benchmark's figure: one bar chart per measured overhead, ours beside timm's."""
from __future__ import annotations

import math
import textwrap
from typing import Sequence

from ..atomic_files import atomic_write
from .benchmark import BenchResult

__all__ = ['plot_results', 'PANEL_TITLES']

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
