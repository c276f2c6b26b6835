"""The benchmark: model names, paired ratios and noise flags, peak memory, modes, tables, figure, tool."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from convattn_plugin.analysis import bench_report as report
from convattn_plugin.analysis.benchmark import BenchResult, ModeResult, paired_overhead, run_benchmark
from convattn_plugin.analysis.bench_modes import peak_memory
from convattn_plugin.analysis.model_spec import build_model, parse_model

ROOT = Path(__file__).resolve().parents[1]


def test_parse_model_grammar():
    s = parse_model('resnet50+cbam')
    assert (s.arch, s.kind, s.impl, s.baseline) == ('resnet50', 'cbam', 'ours', 'resnet50')
    from convattn_plugin.layers import CBAM
    assert s.attn_layer is CBAM
    t = parse_model('resnet50+timm:se')
    assert (t.impl, t.attn_layer, t.baseline) == ('timm', 'se', 'resnet50')
    r = parse_model('resnet50_eca')
    assert (r.arch, r.kind, r.impl, r.baseline, r.attn_layer) == ('resnet50_eca', 'eca', 'ours', 'resnet50', None)
    assert parse_model('resnet50').impl == 'baseline'
    with pytest.raises(ValueError, match='known kinds'):
        parse_model('resnet50+nope')
    with pytest.raises(ValueError, match='no kind after "timm:"'):
        parse_model('resnet50+timm:')


def test_paired_overhead_and_noise_flag():
    base = [1.0, 2.0, 1.0, 2.0, 1.0]
    steady = paired_overhead([1.1, 2.2, 1.1, 2.2, 1.1], base, batch_size=4)
    assert steady.ratio == pytest.approx(1.1) and steady.ratio_q1 == pytest.approx(1.1)
    assert not steady.noisy                                  # no spread: a 10 % effect is resolved
    assert steady.ms == pytest.approx(1100) and steady.images_per_s == pytest.approx(4 / 1.1)
    noisy = paired_overhead([1.3, 1.6, 1.05, 2.1, 0.8], base, batch_size=4)
    assert noisy.ratio == pytest.approx(1.05) and noisy.ratio_q3 - noisy.ratio_q1 > 0.05
    assert noisy.noisy                                       # spread larger than the 5 % effect
    assert paired_overhead([1.5, 3.0], [1.0, 2.0], 1).noisy  # under 3 rounds: never resolved


def test_peak_memory_counts_live_tensors():
    def step():
        a = torch.ones(1 << 18)          # 1 MiB
        b = torch.ones(1 << 18)          # 1 MiB, both live
        del a, b
        c = torch.ones(1 << 18)          # after both are freed: the peak stays 2 MiB
        del c
    peak = peak_memory(step, torch.device('cpu'))
    assert 2 * 2 ** 20 <= peak < 2.1 * 2 ** 20


def test_peak_memory_through_backward():
    # 1 MiB each. Forward: x, p = x * w, s = sigmoid(p) live at once (3), then p is freed
    # (sigmoid keeps its output s); backward: sigmoid's gradient beside x and s (3), then the
    # gradient of w (x, that gradient, w.grad: 3). Never 4.
    w = torch.ones(1 << 18, requires_grad=True)

    def step():
        x = torch.ones(1 << 18)
        torch.sigmoid(x * w).sum().backward()
    peak = peak_memory(step, torch.device('cpu'))
    assert 3 * 2 ** 20 <= peak < 3.1 * 2 ** 20


@pytest.fixture(scope='module')
def tiny_results(one_thread):
    return run_benchmark(['resnet18+se', 'resnet18+timm:se'], modes=('infer', 'train'), batch_size=2, img_size=32,
                         rounds=3, warmup=1, attn_rounds=1, progress=False)


def test_benchmark_measures_every_mode(tiny_results):
    assert [r.name for r in tiny_results] == ['resnet18', 'resnet18+se', 'resnet18+timm:se']  # baseline first
    base, ours, theirs = tiny_results
    assert base.attn_ms == 0 and base.attn_gflops == 0 and ours.attn_ms > 0 and theirs.attn_ms > 0
    assert ours.params > base.params and theirs.params > base.params
    assert ours.gflops > base.gflops and ours.attn_gflops > 0
    for r in tiny_results:
        assert set(r.modes) == {'infer', 'train'}
        for mr in r.modes.values():
            assert len(mr.runs_ms) == 3 and mr.ms == pytest.approx(sorted(mr.runs_ms)[1])
            assert mr.images_per_s == pytest.approx(2 / (mr.ms / 1e3))
        assert r.train_mem_mb > 0
    assert base.modes['train'].ratio == 1 and base.mem_extra_mb == 0
    # Both SE variants keep the same feature map for backward (the block's BN output).
    assert ours.mem_extra_mb == pytest.approx(theirs.mem_extra_mb, abs=0.05)


def test_benchmark_refuses_bad_options():
    with pytest.raises(ValueError, match="modes must be"):
        run_benchmark(['resnet18'], modes=('fast',))
    with pytest.raises(ValueError, match='rounds must be a positive int, got 0'):
        run_benchmark(['resnet18'], rounds=0)


def _result(name, impl, kind, infer, train, mem, noisy=False):
    r = BenchResult(name, kind, impl, 'resnet18', params=1, gflops=1.0, train_mem_mb=100 + mem, mem_extra_mb=mem)
    r.modes = {'infer': ModeResult(ms=10, ratio=1 + infer, noisy=noisy), 'train': ModeResult(ms=10, ratio=1 + train)}
    return r


def test_target_rows_apply_the_targets():
    results = [_result('resnet18', 'baseline', '', 0, 0, 0), _result('resnet18+cbam', 'ours', 'cbam', 0.05, 0.07, 5),
               _result('resnet18+timm:cbam', 'timm', 'cbam', 0.10, 0.10, 10, noisy=True)]
    (row,) = report.target_rows(results)
    assert row['train_ratio'] == pytest.approx(0.7) and row['train_target'] == 0.8 and row['train_met'] == 'yes'
    assert row['mem_ratio'] == pytest.approx(0.5) and row['mem_target'] == 0.6 and row['mem_met'] == 'yes'
    assert row['infer_noisy'] is True
    results[1].modes['train'].ratio = 1.09
    assert report.target_rows(results)[0]['train_met'] == 'NO'
    text = report.format_targets(report.target_rows(results))
    assert text.splitlines()[0].split()[:3] == ['kind', 'infer', 'ours'] and 'NO' in text


def test_tables_files_and_figure(tiny_results, tmp_path):
    import csv
    import json
    table = report.format_table(tiny_results).splitlines()
    assert table[0].split()[:2] == ['model', 'impl'] and len(table) == 2 + 3
    assert 'train +%' in table[0] and 'extra MB' in table[0]
    report.write_results(tiny_results, str(tmp_path / 'r.csv'))
    report.write_results(tiny_results, str(tmp_path / 'r.json'), meta=dict(batch_size=2))
    rows = list(csv.DictReader(open(tmp_path / 'r.csv')))
    assert [r['name'] for r in rows] == [r.name for r in tiny_results] and 'train_ratio' in rows[0]
    assert json.load(open(tmp_path / 'r.json'))['meta'] == dict(batch_size=2)
    back, meta = report.read_results(str(tmp_path / 'r.json'))
    assert back[1].modes['train'].runs_ms == tiny_results[1].modes['train'].runs_ms and meta['batch_size'] == 2
    pytest.importorskip('matplotlib', reason='needs the tools extra: pip install "convattn_plugin[tools]"')
    from convattn_plugin.analysis.bench_report import PANEL_TITLES, plot_results
    axes = plot_results(tiny_results, str(tmp_path / 'r.png'))
    assert [ax.get_title() for ax in axes] == [PANEL_TITLES[k] for k in ('infer', 'train', 'memory', 'attn')]
    for ax in axes:
        assert len(ax.patches) == 2                                  # one bar per non-baseline model
        assert [t.get_text() for t in ax.get_xticklabels()] == ['se', 'se (timm)']
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ['ours', 'timm', 'noise (spread > effect)']
    assert axes[2].patches[0].get_height() == pytest.approx(tiny_results[1].mem_extra_mb)


def _headers(markdown_table: str) -> list[str]:
    return [h.strip() for h in markdown_table.splitlines()[0].strip('|').split('|')]


def test_help_explains_every_column():
    out = subprocess.run([sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--help'], capture_output=True,
                         text=True, check=True).stdout
    assert out.count('What attention costs') == 1                    # the description once
    results = [_result('resnet18', 'baseline', '', 0, 0, 0), _result('resnet18+cbam', 'ours', 'cbam', 0.05, 0.07, 5),
               _result('resnet18+timm:cbam', 'timm', 'cbam', 0.10, 0.10, 10)]
    for i, r in enumerate(results):
        r.modes['compile'] = ModeResult(ms=5, ratio=1.01)
        r.modes['attn-train'] = ModeResult(ms=5, runs_ms=[1.0 + i, 1.5 + i, 1.2 + i])
        r.modes['attn-infer'] = ModeResult(ms=2, runs_ms=[0.4 + i, 0.5 + i, 0.6 + i])
    headers = _headers(report.format_table(results, markdown=True))
    headers += _headers(report.format_targets(report.target_rows(results), markdown=True))
    assert len(headers) > 25
    for h in headers:
        generic = h
        for mode in ('attn-train', 'attn-infer', 'infer', 'train', 'compile'):
            generic = generic.replace(f'{mode} ', 'MODE ')
        assert h in out or generic in out, h


def test_help_does_not_import_torch():
    code = (f'import sys; sys.argv = ["benchmark.py", "--help"]; sys.path.insert(0, {str(ROOT / "tools")!r})\n'
            'try:\n    import benchmark; benchmark.main()\nexcept SystemExit:\n    pass\n'
            'print("torch" in sys.modules, file=sys.stderr)')
    err = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True).stderr
    assert err.strip().endswith('False')


def test_benchmark_tool_end_to_end(tmp_path, one_thread):
    out = subprocess.run(
        [sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--models', 'resnet18+eca', '--batch-size', '2',
         '--img-size', '32', '--rounds', '1', '--modes', 'train', '--attn-rounds', '0', '--threads', '1',
         '--no-progress', '--out', str(tmp_path / 'b.json'), '--plot', str(tmp_path / 'b.png')],
        capture_output=True, text=True, env={**__import__('os').environ, 'OMP_NUM_THREADS': '1'})
    assert out.returncode == 0, out.stderr
    assert 'resnet18+eca' in out.stdout and '"?" / "noise"' in out.stdout   # one round: flagged as noise
    assert 'profiler' not in out.stderr            # the memory profiler's native lines are kept out
    assert (tmp_path / 'b.json').stat().st_size > 0 and (tmp_path / 'b.png').stat().st_size > 0
    bad = subprocess.run([sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--rounds', '0'],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--rounds: must be a positive integer, got '0'" in bad.stderr
    bad = subprocess.run([sys.executable, str(ROOT / 'tools' / 'benchmark.py'), '--out', str(tmp_path / 'results')],
                         capture_output=True, text=True)  # refused before any model is built
    assert bad.returncode == 2 and 'a result file ends in .json (everything) or .csv (the table)' in bad.stderr
    assert 'build + FLOPs' not in bad.stderr


def test_mode_result_overhead_is_ratio_minus_one():
    assert ModeResult(ratio=1.25).overhead == pytest.approx(0.25)
    assert math.isnan(ModeResult().overhead)


def test_attention_alone_mode(one_thread):
    """attn-train times only the attention modules: ours vs timm's, round by round."""
    results = run_benchmark(['resnet18+cbam', 'resnet18+timm:cbam'], modes=('attn-train',), batch_size=2,
                            img_size=32, rounds=3, attn_rounds=0, progress=False)
    base, ours, theirs = results
    assert math.isnan(ours.modes['attn-train'].ratio)
    (row,) = report.target_rows(results)
    expected = sorted(a / b for a, b in zip(ours.modes['attn-train'].runs_ms, theirs.modes['attn-train'].runs_ms))[1]
    assert row['attn-train_ratio'] == pytest.approx(expected)
    assert row['attn-train_met'] in ('yes', 'NO', 'noise')
    assert 'attn-train ours / timm' in report.format_targets([row])
    base_row = report.format_table(results).splitlines()[2].split()
    assert base_row[:2] == ['resnet18', 'baseline'] and base_row[-3:] == ['-', '-', '-']  # nothing timed


@pytest.mark.parametrize('mode', ['attn-train', 'attn-infer'])
def test_attention_modes_run_the_attention_modules_and_nothing_else(mode, one_thread):
    # What the attn-* rounds time, seen by hooks rather than by a clock: every outer attention
    # module of the model once per call, no other module; in the plain baseline, no module at all.
    from convattn_plugin.analysis.bench_modes import make_call
    x = torch.randn(2, 3, 32, 32)
    for spec in ('resnet18', 'resnet18+cbam'):
        model = build_model(parse_model(spec), num_classes=3)
        call = make_call(mode, model, x, None, torch.device('cpu'), None)
        ran = []
        for name, m in model.named_modules():
            m.register_forward_pre_hook(lambda mod, args, name=name: ran.append(name))
        call()
        outer = [n for n in ran if not any(n.startswith(o + '.') for o in ran if o != n)]
        expected = [n for n, m in model.named_modules() if type(m).__name__ == 'CBAM']
        assert outer == expected, spec
        assert len(expected) == (8 if spec.endswith('cbam') else 0)


def test_attention_alone_inference_mode(one_thread):
    """attn-infer times the attention modules' eval forward alone; an in-place gate gets a fresh input."""
    results = run_benchmark(['resnet18+cbam', 'resnet18+timm:cbam'], modes=('attn-infer',), batch_size=2,
                            img_size=32, rounds=3, attn_rounds=0, progress=False)
    base, ours, theirs = results
    assert math.isnan(ours.modes['attn-infer'].ratio)
    (row,) = report.target_rows(results)
    expected = sorted(a / b for a, b in zip(ours.modes['attn-infer'].runs_ms, theirs.modes['attn-infer'].runs_ms))
    assert row['attn-infer_ratio'] == pytest.approx(expected[1])
    assert row['attn-infer_iqr'][0] <= row['attn-infer_ratio'] <= row['attn-infer_iqr'][1]
    assert 'attn-infer ours / timm' in report.format_targets([row])

    from convattn_plugin.analysis.bench_modes import make_call
    model = build_model(parse_model('resnet18+cbam'), attn_inplace=True).eval()
    x = torch.randn(1, 3, 32, 32)
    seen = []
    attn = next(m for m in model.modules() if type(m).__name__ == 'CBAM')
    attn.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    call = make_call('attn-infer', model, x, None, torch.device('cpu'), None)
    seen.clear()
    call()
    call()
    assert not model.training and attn.inplace
    assert seen[0] is not seen[1] and torch.equal(seen[0], seen[1])   # a fresh copy, never the gated one


def test_compile_mode_keeps_a_graph_for_every_model():
    # Models of one class share their forward's code; past dynamo's recompile limit (8) a
    # compiled model of another structure silently runs eagerly. The compile mode's region
    # makes room for all.
    from convattn_plugin.analysis.bench_modes import room_for_compiled_models

    def run(count: int) -> int:
        torch.compiler.reset()
        graphs = []

        def backend(gm, example_inputs):
            graphs.append(gm)
            return gm.forward
        # Different depths: different graphs (dynamo shares one graph among equal structures).
        models = [torch.compile(torch.nn.Sequential(*[torch.nn.Linear(3, 3) for _ in range(depth + 1)]),
                                backend=backend) for depth in range(count)]
        for m in models:
            m(torch.randn(2, 3))
        return len(graphs)

    limit = torch.compiler.config.recompile_limit
    assert run(limit + 2) == limit                       # what the region is for
    with room_for_compiled_models(limit + 2):
        assert run(limit + 2) == limit + 2
    assert torch.compiler.config.recompile_limit == limit
    torch.compiler.reset()
