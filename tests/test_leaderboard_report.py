"""Leaderboard outputs: table rows and columns, CSV and JSON that parse back, the Pareto plot's content."""
from __future__ import annotations

import csv
import io
import json
import math

import pytest

from convattn_plugin.leaderboard.cost import ModelCost
from convattn_plugin.leaderboard.plot import draw_pareto, pareto_front, plot_pareto
from convattn_plugin.leaderboard.report import COLUMNS, format_csv, format_markdown, leaderboard_rows, write_reports

TOP1 = {  # model -> top-1 per seed 0, 1, 2
    'baseline': [90.0, 91.0, 92.0],
    'se': [91.0, 92.0, 93.0],     # +1 on every seed: better
    'cbam': [90.5, 90.0, 93.5],   # +0.33 on average, large spread: within noise
}
COST = {'baseline': (1000, 10.0, 0.0), 'se': (1100, 10.5, 0.05), 'cbam': (1200, 11.0, 0.25)}


def runs() -> list[dict]:
    return [dict(model=m, seed=s, top1=v) for s in range(3) for m, vals in TOP1.items() for v in [vals[s]]]


def costs() -> dict[str, ModelCost]:
    out = {}
    for m, (params, mflops, lat) in COST.items():
        out[m] = ModelCost(m, params, mflops, 0.5 * (1 + lat), params / 1000 - 1, mflops / 10 - 1, lat,
                           lat - 0.02 if lat else 0.0, lat + 0.03 if lat else 0.0)
    return out


def test_rows_baseline_first_then_by_accuracy():
    rows = leaderboard_rows(runs(), costs())
    assert [r['model'] for r in rows] == ['baseline', 'se', 'cbam']
    base, se, cbam = rows
    assert base['verdict'] == 'reference' and base['diff'] == 0.0 and math.isnan(base['diff_low'])
    assert se['seeds'] == 3 and se['top1_mean'] == pytest.approx(92.0) and se['top1_std'] == pytest.approx(1.0)
    assert se['diff'] == pytest.approx(1.0) and se['diff_low'] == pytest.approx(1.0)  # no spread at all
    assert se['verdict'] == 'better'
    assert cbam['verdict'] == 'within noise' and cbam['diff_low'] < 0 < cbam['diff_high']
    assert cbam['params_overhead'] == pytest.approx(0.2) and cbam['latency_overhead'] == pytest.approx(0.25)
    assert set(COLUMNS) <= set(se)


def test_rows_without_costs_have_nan_cost_columns():
    rows = leaderboard_rows(runs(), None)
    assert all(math.isnan(r['params']) and math.isnan(r['latency_overhead']) for r in rows)


def test_markdown_table_has_one_row_per_model():
    md = format_markdown(leaderboard_rows(runs(), costs()))
    lines = md.strip().splitlines()
    assert len(lines) == 2 + 3
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    assert header[:6] == ['model', 'seeds', 'top-1 % (mean ± std)', 'Δ top-1 vs baseline', '95 % CI', 'reading']
    cells = {ln.split('|')[1].strip(): [c.strip() for c in ln.strip('|').split('|')] for ln in lines[2:]}
    assert all(len(c) == len(header) for c in cells.values())
    assert cells['se'][2] == '92.00 ± 1.00' and cells['se'][3] == '+1.00' and cells['se'][5] == 'better'
    assert cells['cbam'][10].startswith('+25.0 (+23.0, +28.0)')
    assert cells['baseline'][3] == '-' and cells['baseline'][4] == '-'


def test_csv_and_json_parse_back(tmp_path):
    rows = leaderboard_rows(runs(), costs())
    parsed = list(csv.DictReader(io.StringIO(format_csv(rows))))
    assert list(parsed[0]) == list(COLUMNS)
    assert [r['model'] for r in parsed] == ['baseline', 'se', 'cbam']
    assert float(parsed[1]['top1_mean']) == pytest.approx(92.0)
    assert parsed[0]['diff_low'] == 'nan' and int(parsed[2]['params']) == 1200

    paths = write_reports(str(tmp_path / 'lb'), rows, runs(), dict(title='### T', notes=['machine: here']))
    data = json.loads((tmp_path / 'lb.json').read_text())
    assert data['columns'] == list(COLUMNS) and len(data['runs']) == 9
    assert data['rows'][0]['diff_low'] is None  # nan is written as null
    md = (tmp_path / 'lb.md').read_text()
    assert md.startswith('### T\n') and md.rstrip().endswith('- machine: here')
    assert sorted(paths) == ['csv', 'json', 'md']


def test_pareto_front():
    pts = [('baseline', 0.0, 90.0), ('a', 0.05, 91.0), ('b', 0.10, 90.5), ('c', 0.2, 92.0), ('d', -0.01, 89.0)]
    assert pareto_front(pts) == ['d', 'baseline', 'a', 'c']


def test_plot_has_axes_points_and_error_bars(tmp_path):
    rows = leaderboard_rows(runs(), costs())
    fig = draw_pareto(rows, title='digits')
    (ax,) = fig.axes
    assert 'latency overhead' in ax.get_xlabel() and 'top-1' in ax.get_ylabel() and ax.get_title() == 'digits'
    # One error-bar container per model, at (latency overhead %, mean top-1).
    points = sorted((c.lines[0].get_xdata()[0], c.lines[0].get_ydata()[0]) for c in ax.containers)
    assert points == [pytest.approx((0.0, 91.0)), pytest.approx((5.0, 92.0)), pytest.approx((25.0, 274 / 3))]
    assert sorted(t.get_text() for t in ax.texts) == ['baseline', 'cbam', 'se']
    se = next(c for c in ax.containers if c.lines[0].get_ydata()[0] == pytest.approx(92.0))
    assert se.has_yerr and se.has_xerr
    front = [ln for ln in ax.get_lines() if ln.get_label() == 'Pareto front']
    assert len(front) == 1 and list(front[0].get_xdata()) == pytest.approx([0.0, 5.0])

    path = plot_pareto(rows, str(tmp_path / 'p.png'))
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.shape[:2] == (600, 900)  # 7.5 x 5 inches at 120 dpi
    with pytest.raises(ValueError, match='no model has both'):
        draw_pareto(leaderboard_rows(runs(), None))
