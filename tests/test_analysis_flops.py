"""FLOP counting (convattn_plugin.flops), checked against counts worked out by hand."""
from __future__ import annotations

import torch
import torch.nn as nn

import pytest

from convattn_plugin.flops import count_flops, flop_breakdown
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


def test_se_total_by_hand():
    # (2, 32, 8, 8), bottleneck 2: mean 2*32*64, fc1 2*(2*32*2), relu 2*2, fc2 2*(2*2*32),
    # sigmoid 2*32, gate product 2*32*64.
    fc = flop_breakdown(create_attn('se', 32).eval(), (2, 32, 8, 8))
    assert fc.total == 4096 + 256 + 4 + 256 + 64 + 4096 == 8772


def test_eca_total_by_hand():
    # C=16: adaptive kernel int(log2(16)/2 + 1/2) = 2 -> 3. mean 16*64, conv1d 2*16*3,
    # sigmoid 16, gate product 16*64.
    fc = flop_breakdown(create_attn('eca', 16).eval(), (1, 16, 8, 8))
    assert fc.total == 1024 + 96 + 16 + 1024 == 2160


def test_gc_total_by_hand():
    # (1, 16, 4, 4), bottleneck 1: conv_attn 2*16*16, softmax 5*16, pooling product 2*16*16,
    # transform convs 2*16 + 2*16, LayerNorm 7*1, ReLU 1, broadcast add 16*16.
    fc = flop_breakdown(create_attn('gc', 16).eval(), (1, 16, 4, 4))
    assert fc.total == 512 + 80 + 512 + 64 + 7 + 1 + 256 == 1432


@pytest.mark.parametrize('kind', list_attentions())
def test_every_kind_counts_at_least_its_output(kind):
    """Each kind touches every output element at least once (a gate product or a sum)."""
    fc = flop_breakdown(create_attn(kind, 16).eval(), (1, 16, 8, 8))
    assert fc.attention == fc.total >= 16 * 8 * 8
    assert fc.attention_modules == 1


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
    m = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.ReLU())
    fwd = count_flops(m, (1, 3, 8, 8))
    assert fwd == 2 * 4 * 36 * 27 + 4 * 36                   # convolution + ReLU
    # Added: the loss sum 1 per output element; backward: the weight's gradient 2*4*36*27 (the
    # input needs none), ReLU's threshold_backward 2 per element, the sum's broadcast 0.
    assert count_flops(m, (1, 3, 8, 8), backward=True) - fwd == 2 * 4 * 36 * 27 + 2 * 4 * 36 + 4 * 36


@pytest.mark.parametrize('kind', list_attentions())
def test_meta_count_equals_real_count(kind):
    m = create_attn(kind, 16).eval()
    real = flop_breakdown(m, torch.randn(1, 16, 8, 8))     # a real tensor: runs for real
    meta = flop_breakdown(m, (1, 16, 8, 8), on_meta=True)
    # Attention may run as the fused CPU kernel for real and as its math on 'meta':
    # the operators differ, the totals do not.
    assert meta.total == real.total and meta.attention == real.attention
