"""Tests of convattn_plugin.analysis: FLOP counting, the benchmark, attention maps."""
from __future__ import annotations

import torch
import torch.nn as nn

import pytest

from convattn_plugin.analysis import attention_maps as am
from convattn_plugin.analysis import benchmark as bench
from convattn_plugin.analysis.flops import count_flops, flop_breakdown
from convattn_plugin.layers import create_attn, list_attentions


# ----------------------------------------------------------------------------- flops

def test_conv_flops_are_two_per_multiply_add():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    # 8 output channels x 10 x 10 positions x (3 x 3 x 3) multiply-adds, 2 FLOPs each.
    assert count_flops(conv, (1, 3, 10, 10)) == 2 * 8 * 100 * 27


def test_linear_and_batch_counts_scale():
    lin = nn.Linear(16, 4)
    assert count_flops(lin, (3, 16)) == 2 * 3 * 16 * 4


def test_gate_ops_are_counted():
    """A sigmoid-gated module counts more than its convolutions, by the gate's ops."""
    se = create_attn('se', 32).eval()
    fc = flop_breakdown(se, (2, 32, 8, 8))
    numel = 2 * 32 * 8 * 8
    assert fc.by_op['aten.mean'] == numel          # squeeze: one per input element
    assert fc.by_op['aten.mul'] == numel           # gate applied: one per element
    assert fc.by_op['aten.sigmoid'] == 2 * 32      # one per gate value
    assert fc.matmul == 2 * 2 * (32 * 2 + 2 * 32)   # the two FC layers, 2 FLOPs per multiply-add
    assert fc.total > fc.matmul + 2 * numel
    assert fc.elementwise == fc.total - fc.matmul > 0
    assert fc.attention == fc.total and fc.attention_modules == 1


def test_cbam_counts_amax_and_spatial_gate():
    fc = flop_breakdown(create_attn('cbam', 16).eval(), (1, 16, 8, 8))
    # Channel gate: max over positions (amax); spatial gate: max over channels, in inference
    # as pairwise maxima of channel halves (15 comparisons per position for 16 channels).
    assert fc.by_op['aten.amax'] == 16 * 64
    assert fc.by_op['aten.maximum'] == 15 * 64
    assert fc.by_op['aten.sigmoid'] == 16 + 64          # channel gate + spatial gate


def test_softmax_and_products_of_quadratic_kinds():
    fc = flop_breakdown(create_attn('gc', 16).eval(), (1, 16, 4, 4))
    assert fc.by_op['aten._softmax'] == 5 * 16
    assert fc.by_op['aten.bmm'] == 2 * 16 * 16          # (C x HW) @ (HW x 1)
    sa = flop_breakdown(create_attn('selfattn', 16).eval(), (1, 16, 4, 4))
    matmul = sum(v for k, v in sa.by_op.items() if 'bmm' in k or 'scaled_dot' in k)
    # q k^T: 16x2 @ 2x16, attn v: 16x16 @ 16x16, 2 FLOPs per multiply-add.
    assert matmul >= 2 * (16 * 2 * 16 + 16 * 16 * 16)


@pytest.mark.parametrize('kind', list_attentions())
def test_every_kind_adds_counted_flops(kind):
    fc = flop_breakdown(create_attn(kind, 16).eval(), (1, 16, 8, 8))
    assert fc.total > 0 and fc.attention == fc.total


def test_attention_inside_a_model_is_attributed():
    timm = pytest.importorskip('timm')
    from convattn_plugin.layers import SqueezeExcite
    base = timm.create_model('resnet18', num_classes=10).eval()
    se = timm.create_model('resnet18', num_classes=10, block_args=dict(attn_layer=SqueezeExcite)).eval()
    fb, fs = flop_breakdown(base, (1, 3, 64, 64)), flop_breakdown(se, (1, 3, 64, 64))
    assert fb.attention == 0 and fb.attention_modules == 0
    assert fs.attention_modules == 8                     # one per BasicBlock
    assert fs.total == pytest.approx(fb.total + fs.attention, rel=1e-3)
    assert set(fs.by_module) == {n for n, m in se.named_modules() if isinstance(m, SqueezeExcite)}


def test_backward_counts_more():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    fwd = count_flops(m, (1, 3, 8, 8))
    assert count_flops(m, (1, 3, 8, 8), backward=True) > 2 * fwd


@pytest.mark.parametrize('kind', list_attentions())
def test_meta_count_equals_real_count(kind):
    m = create_attn(kind, 16).eval()
    real = flop_breakdown(m, torch.randn(1, 16, 8, 8))     # a real tensor: runs for real
    meta = flop_breakdown(m, (1, 16, 8, 8), on_meta=True)
    # Attention may run as the fused CPU kernel for real and as its math on 'meta':
    # the operators differ, the totals do not.
    assert meta.total == real.total and meta.attention == real.attention


# ----------------------------------------------------------------------------- benchmark

def test_parse_model_grammar():
    s = bench.parse_model('resnet50+cbam')
    assert (s.arch, s.kind, s.impl, s.baseline) == ('resnet50', 'cbam', 'ours', 'resnet50')
    from convattn_plugin.layers import CBAM
    assert s.attn_layer is CBAM
    t = bench.parse_model('resnet50+timm:se')
    assert (t.impl, t.attn_layer, t.baseline) == ('timm', 'se', 'resnet50')
    r = bench.parse_model('resnet50_eca')
    assert (r.arch, r.kind, r.impl, r.baseline, r.attn_layer) == ('resnet50_eca', 'eca', 'ours', 'resnet50', None)
    assert bench.parse_model('resnet50').impl == 'baseline'
    with pytest.raises(ValueError, match='known kinds'):
        bench.parse_model('resnet50+nope')


def test_peak_memory_counts_live_tensors():
    def step():
        a = torch.ones(1 << 18)          # 1 MiB
        b = torch.ones(1 << 18)          # 1 MiB, both live
        del a, b
        c = torch.ones(1 << 18)          # reuses; peak stays 2 MiB
        del c
    peak = bench.train_step_peak_memory(step, torch.device('cpu'))
    assert 2 * 2 ** 20 <= peak < 2.5 * 2 ** 20


@pytest.fixture(scope='module')
def tiny_results():
    return bench.run_benchmark(['resnet18+se', 'resnet18+timm:se'], batch_size=2, img_size=32, rounds=2,
                               train_rounds=1, warmup=1, progress=False)


def test_benchmark_measures_everything(tiny_results):
    names = [r.name for r in tiny_results]
    assert names == ['resnet18', 'resnet18+se', 'resnet18+timm:se']      # baseline added, first
    base, ours, theirs = tiny_results
    assert base.params_ratio == 1 and base.latency_ratio == 1 and base.attn_ms == 0
    assert ours.params > base.params and theirs.params > base.params
    assert ours.gflops > base.gflops and ours.attn_gflops > 0
    for r in tiny_results:
        assert r.latency_ms > 0 and r.train_ms > 0 and r.train_mem_mb > 0
        assert len(r.latency_runs) == 2 and len(r.train_runs) == 1
    assert ours.attn_ms > 0 and theirs.attn_ms > 0
    # Both SE variants keep the same tensors for backward: same training memory.
    assert ours.train_mem_mb == pytest.approx(theirs.train_mem_mb, rel=0.02)
    rows = bench.speed_target_rows(tiny_results)
    assert [r['kind'] for r in rows] == ['se'] and rows[0]['target'] == 0.8


def test_benchmark_outputs(tiny_results, tmp_path):
    pytest.importorskip('matplotlib')
    import csv
    import json
    table = bench.format_table(tiny_results)
    assert 'resnet18+timm:se' in table and 'lat. overhead' in table
    bench.write_results(tiny_results, str(tmp_path / 'r.csv'))
    bench.write_results(tiny_results, str(tmp_path / 'r.json'), meta=dict(batch_size=2))
    rows = list(csv.DictReader(open(tmp_path / 'r.csv')))
    assert [r['name'] for r in rows] == [r.name for r in tiny_results]
    data = json.load(open(tmp_path / 'r.json'))
    assert data['meta']['batch_size'] == 2 and len(data['results'][1]['latency_runs']) == 2
    bench.plot_results(tiny_results, str(tmp_path / 'r.png'))
    assert (tmp_path / 'r.png').stat().st_size > 10_000


def test_benchmark_cli(tmp_path):
    pytest.importorskip('matplotlib')
    import runpy
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / 'tools' / 'benchmark.py'
    argv = ['benchmark.py', '--models', 'resnet18+eca', '--batch-size', '1', '--img-size', '32', '--rounds', '1',
            '--train-rounds', '0', '--no-progress', '--out', str(tmp_path / 'b.json'),
            '--plot', str(tmp_path / 'b.png')]
    old = sys.argv
    sys.argv = argv
    try:
        with pytest.raises(SystemExit) as e:
            runpy.run_path(str(script), run_name='__main__')
    finally:
        sys.argv = old
    assert e.value.code == 0
    assert (tmp_path / 'b.json').exists() and (tmp_path / 'b.png').exists()


# ----------------------------------------------------------------------------- attention maps

def test_capture_resnet_cbam_maps_have_expected_shapes():
    timm = pytest.importorskip('timm')
    from convattn_plugin.layers import CBAM
    model = timm.create_model('resnet18', num_classes=10, block_args=dict(attn_layer=CBAM))
    maps = am.capture_attention(model, torch.randn(2, 3, 64, 64))
    assert len({m.module for m in maps}) == 8
    widths = {'layer1': 64, 'layer2': 128, 'layer3': 256, 'layer4': 512}
    sizes = {'layer1': 16, 'layer2': 8, 'layer3': 4, 'layer4': 2}
    for m in maps:
        if m.kind == 'channel':
            assert m.values.shape == (widths[m.stage],)
            assert ((m.values > 0) & (m.values < 1)).all()      # sigmoid outputs
        else:
            assert m.kind == 'spatial' and m.values.shape == (sizes[m.stage],) * 2
    assert sum(m.kind == 'channel' for m in maps) == sum(m.kind == 'spatial' for m in maps) == 8


@pytest.mark.parametrize('kind,expected', [
    ('se', {'channel'}), ('eca', {'channel'}), ('localattn', {'channel', 'spatial'}), ('coord', {'spatial'}),
    ('gc', {'spatial'}), ('selfattn', {'spatial'}), ('nonlocal', {'spatial'}), ('bam', {'spatial'}),
    ('simam', {'spatial'}), ('triplet', {'spatial', 'other'}), ('dualattn', {'spatial'}),
])
def test_capture_each_kind(kind, expected):
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), create_attn(kind, 16))
    maps = am.capture_attention(model, torch.randn(1, 3, 8, 8))
    assert {m.kind for m in maps} == expected
    for m in maps:
        if m.kind == 'spatial':
            assert m.values.shape == (8, 8) and torch.isfinite(m.values).all()
        if m.source.startswith('softmax') or m.source.startswith('mean_q'):
            assert m.values.sum() == pytest.approx(1.0, rel=1e-4)   # a distribution over positions


def test_timm_modules_are_captured_too():
    timm = pytest.importorskip('timm')
    model = timm.create_model('resnet18', num_classes=10, block_args=dict(attn_layer='cbam'))
    maps = am.capture_attention(model, torch.randn(1, 3, 64, 64))
    assert sum(m.kind == 'spatial' for m in maps) == sum(m.kind == 'channel' for m in maps) == 8


def test_figure_and_grad_cam(tmp_path):
    pytest.importorskip('matplotlib')
    pytest.importorskip('sklearn')
    timm = pytest.importorskip('timm')
    pytest.importorskip('pytorch_grad_cam')
    from convattn_plugin.layers import CBAM
    model = timm.create_model('resnet18', num_classes=10, block_args=dict(attn_layer=CBAM)).eval()
    image = am.load_image(None, 64)
    assert image.shape == (64, 64, 3) and 0 <= image.min() and image.max() <= 1
    x = am.to_input(image)
    cam, cls = am.grad_cam(model, x)
    assert cam.shape == (64, 64) and 0 <= cls < 10 and cam.min() >= 0 and cam.max() <= 1
    maps = am.capture_attention(model, x)
    path = am.plot_attention(maps, image, str(tmp_path / 'maps.png'), cam=cam, title='test')
    from PIL import Image
    w, h = Image.open(path).size
    assert w > 400 and h > 400


def test_stage_names():
    timm = pytest.importorskip('timm')
    model = timm.create_model('resnet18')
    assert am.stage_of(model, 'layer3.1.se') == 'layer3'
    assert am.stage_of(nn.Module(), 'stages.2.blocks.0.attn') == 'stages.2.blocks'


def test_vis_cli(tmp_path):
    for mod in ('matplotlib', 'sklearn', 'pytorch_grad_cam'):
        pytest.importorskip(mod)
    import runpy
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / 'tools' / 'vis_attention.py'
    out = tmp_path / 'v.png'
    old = sys.argv
    sys.argv = ['vis_attention.py', '--model', 'resnet18+se', '--img-size', '64', '--image', 'flower',
                '--num-classes', '10', '--out', str(out)]
    try:
        with pytest.raises(SystemExit) as e:
            runpy.run_path(str(script), run_name='__main__')
    finally:
        sys.argv = old
    assert e.value.code == 0 and out.stat().st_size > 10_000
