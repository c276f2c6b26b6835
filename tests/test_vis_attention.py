"""Attention maps: what is captured per kind, how modules are labelled, the figure's content,
Grad-CAM's layer, which checkpoint files the tool accepts, and its messages."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from convattn_plugin.analysis import attention_maps as am
from convattn_plugin.layers import create_attn

ROOT = Path(__file__).resolve().parents[1]
timm = pytest.importorskip('timm')


def test_capture_resnet_cbam_maps_have_expected_shapes():
    from convattn_plugin.layers import CBAM
    model = timm.create_model('resnet18', num_classes=10, block_args=dict(attn_layer=CBAM))
    maps = am.capture_attention(model, torch.randn(2, 3, 64, 64))
    widths = {'layer1': 64, 'layer2': 128, 'layer3': 256, 'layer4': 512}
    sizes = {'layer1': 16, 'layer2': 8, 'layer3': 4, 'layer4': 2}
    for m in maps:
        if m.kind == 'channel':
            assert m.values.shape == (widths[m.stage],)
            assert ((m.values > 0) & (m.values < 1)).all()      # sigmoid outputs
        else:
            assert m.kind == 'spatial' and m.values.shape == (sizes[m.stage],) * 2
    assert [m.label for m in maps[:4]] == ['cbam layer1.0 channel', 'cbam layer1.0 spatial',
                                           'cbam layer1.1 channel', 'cbam layer1.1 spatial']


def test_one_by_one_maps_keep_spatial_gates_spatial():
    # At 32 px ResNet's last stage is 1x1: a spatial gate has one value, and is still spatial.
    model = timm.create_model('resnet18_cbam', num_classes=10)
    maps = am.capture_attention(model, torch.randn(1, 3, 32, 32))
    last = [m for m in maps if m.stage == 'layer4']
    assert [(m.label, tuple(m.values.shape)) for m in last] == [
        ('cbam layer4.0 channel', (512,)), ('cbam layer4.0 spatial', (1, 1)),
        ('cbam layer4.1 channel', (512,)), ('cbam layer4.1 spatial', (1, 1))]


@pytest.mark.parametrize('kind,expected', [
    ('se', {'channel'}), ('eca', {'channel'}), ('localattn', {'channel', 'spatial'}), ('coord', {'spatial'}),
    ('gc', {'spatial'}), ('selfattn', {'spatial'}), ('nonlocal', {'spatial'}), ('bam', {'spatial'}),
    ('simam', {'spatial'}), ('triplet', {'spatial', 'other'}), ('dualattn', {'spatial'}),
])
def test_capture_each_kind(kind, expected):
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), create_attn(kind, 16))
    maps = am.capture_attention(model, torch.randn(1, 3, 8, 8))
    assert {m.kind for m in maps} == expected
    assert {m.attn_kind for m in maps} == {kind} and {m.block for m in maps} == {'1'}
    for m in maps:
        if m.kind == 'spatial':
            assert m.values.shape == (8, 8) and torch.isfinite(m.values).all()
        if m.source.startswith('softmax') or m.source.startswith('mean_q'):
            assert m.values.sum() == pytest.approx(1.0, rel=1e-4)   # a distribution over positions


def test_timm_modules_are_captured_and_named_by_kind():
    model = timm.create_model('resnet18', num_classes=10, block_args=dict(attn_layer='cbam'))
    maps = am.capture_attention(model, torch.randn(1, 3, 64, 64))
    assert sum(m.kind == 'spatial' for m in maps) == sum(m.kind == 'channel' for m in maps) == 8
    assert maps[0].label == 'cbam layer1.0 channel' and maps[0].module == 'layer1.0.se'


def test_stage_names():
    model = timm.create_model('resnet18')
    assert am.stage_of(model, 'layer3.1.se') == 'layer3'
    assert am.stage_of(nn.Module(), 'stages.2.blocks.0.attn') == 'stages.2.blocks'


def test_grad_cam_layer_keeps_spatial_extent():
    pytest.importorskip('pytorch_grad_cam')
    from convattn_plugin.analysis.grad_cam import cam_layer, grad_cam
    model = timm.create_model('resnet18_cbam', num_classes=10).eval()
    assert cam_layer(model, torch.randn(1, 3, 224, 224))[0] == 'layer4'      # 7x7
    assert cam_layer(model, torch.randn(1, 3, 32, 32))[0] == 'layer2'        # 4x4 (layer3 2x2, layer4 1x1)
    heat, cls, layer = grad_cam(model, torch.randn(1, 3, 32, 32))
    assert heat.shape == (32, 32) and layer == 'layer2' and 0 <= cls < 10
    assert heat.max() > heat.min()                                           # not an empty panel


def _figure(model, size, tmp_path):
    pytest.importorskip('matplotlib')
    from convattn_plugin.analysis.attention_plot import plot_attention
    image = torch.rand(size, size, 3).numpy()
    maps = am.capture_attention(model, torch.randn(1, 3, size, size))
    return plot_attention(maps, image, str(tmp_path / 'maps.png'), cam=image[..., 0], title='test')


def test_figure_content_cbam_at_32px(tmp_path):
    fig = _figure(timm.create_model('resnet18_cbam', num_classes=10), 32, tmp_path)
    rows = fig.subfigs
    assert len(rows) == 1 + 4                                                # input row + one per stage
    assert [r._suptitle.get_text() for r in rows[1:]] == [f'layer{i}: 2 attention modules' for i in range(1, 5)]
    for i, row in enumerate(rows[1:], 1):
        heat = [ax for ax in row.axes if ax.get_title().split('\n')[0].endswith('spatial')]
        bars = [ax for ax in row.axes if ax.get_title().startswith('channel gates')]
        assert [ax.get_title().split('\n')[0] for ax in heat] == [f'cbam layer{i}.0 spatial', f'cbam layer{i}.1 spatial']
        (bar,) = bars
        assert bar.get_title() == f'channel gates (2 modules, C={64 * 2 ** (i - 1)})'
        assert [t.get_text() for t in bar.get_legend().get_texts()] == [f'cbam layer{i}.0 channel',
                                                                         f'cbam layer{i}.1 channel']
        assert len(bar.patches) == 2 * 64 * 2 ** (i - 1)                     # one bar per channel per module
    assert [ax.get_title() for ax in rows[0].axes[:2]] == ['input', 'Grad-CAM']
    assert (tmp_path / 'maps.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_figure_content_se(tmp_path):
    fig = _figure(timm.create_model('resnet18', num_classes=10, block_args=dict(attn_layer='se')), 64, tmp_path)
    for row in fig.subfigs[1:]:
        titles = [ax.get_title() for ax in row.axes]
        assert len(titles) == 1 and titles[0].startswith('channel gates (2 modules')    # no heat maps for SE


def _tool(*args):
    return subprocess.run([sys.executable, str(ROOT / 'tools' / 'vis_attention.py'), *args], capture_output=True,
                          text=True, env={**__import__('os').environ, 'OMP_NUM_THREADS': '1'})


def test_tool_draws_random_weights(tmp_path):
    for mod in ('matplotlib', 'sklearn', 'pytorch_grad_cam'):
        pytest.importorskip(mod)
    out = _tool('--model', 'resnet18+se', '--img-size', '64', '--image', 'flower', '--num-classes', '10',
                '--out', str(tmp_path / 'v.png'))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f'8 attention modules, 8 maps (0 spatial, 8 channel); wrote {tmp_path / "v.png"}'


def test_tool_state_dict_of_another_model_gets_one_line(tmp_path):
    path = tmp_path / 'other.pth'
    torch.save(timm.create_model('resnet18', num_classes=10).state_dict(), path)
    out = _tool('--model', 'resnet18_cbam', '--num-classes', '10', '--checkpoint', str(path), '--no-cam',
                '--out', str(tmp_path / 'v.png'))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert 'not weights of --model resnet18_cbam' in out.stderr and 'missing' in out.stderr


def test_tool_mm_checkpoint_without_config_says_which_file(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(1)}, meta=dict(epoch=1)), path)
    out = _tool('--checkpoint', str(path), '--out', str(tmp_path / 'v.png'))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert 'mmpretrain checkpoint: add --config' in out.stderr


def test_tool_help_is_plain():
    out = _tool('--help')
    assert out.returncode == 0 and out.stdout.count('Where attention looks') == 1


def test_missing_sklearn_names_the_extra(monkeypatch):
    from convattn_plugin.analysis import attention_plot
    monkeypatch.setitem(sys.modules, 'sklearn', None)            # as if not installed
    monkeypatch.setitem(sys.modules, 'sklearn.datasets', None)
    with pytest.raises(ImportError, match=r"needs the package 'scikit-learn'.*pip install \"convattn_plugin\[tools\]\""):
        attention_plot.load_image(None, 32)


def test_tool_reads_a_training_checkpoint_with_its_config(tmp_path):
    """An mmengine training checkpoint (message_hub with HistoryBuffer, numpy values in meta)."""
    for mod in ('mmengine', 'mmpretrain', 'matplotlib', 'pytorch_grad_cam'):
        pytest.importorskip(mod)
    import numpy as np
    from mmengine.logging import HistoryBuffer

    from convattn_plugin.release.convert import build_mm_model
    config = ROOT / 'configs' / 'resnet_cbam' / 'resnet18-cbam_1xb32_digits.py'
    model = build_mm_model(str(config))
    buffer = HistoryBuffer()
    buffer.update(0.5)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1, seed=np.int64(3)), state_dict=model.state_dict(),
                    message_hub=dict(log_scalars={'train/loss': buffer})), path)
    out = _tool('--checkpoint', str(path), '--config', str(config), '--image', str(_png(tmp_path)),
                '--out', str(tmp_path / 'v.png'))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith('8 attention modules, 16 maps (8 spatial, 8 channel)')


def test_tool_reads_a_timm_folder(tmp_path):
    for mod in ('matplotlib', 'safetensors'):
        pytest.importorskip(mod)
    import convattn_plugin  # noqa: F401
    folder = tmp_path / 'timm'
    timm.models.save_for_hf(timm.create_model('resnet18_se', num_classes=10), str(folder), safe_serialization=True)
    out = _tool('--checkpoint', str(folder), '--img-size', '64', '--image', str(_png(tmp_path)), '--no-cam',
                '--out', str(tmp_path / 'v.png'))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith('8 attention modules, 8 maps (0 spatial, 8 channel)')


def _png(tmp_path) -> Path:
    from PIL import Image
    path = tmp_path / 'digit.png'
    Image.fromarray((torch.rand(40, 48, 3) * 255).byte().numpy()).save(path)
    return path


def test_timm_only_install_draws_a_state_dict(tmp_path):
    """Without the mm extra (mmengine, mmpretrain) and without scikit-learn, a state dict still draws."""
    pytest.importorskip('matplotlib')
    import convattn_plugin  # noqa: F401
    weights, image, out = tmp_path / 'w.pth', _png(tmp_path), tmp_path / 'v.png'
    torch.save(timm.create_model('resnet18_se', num_classes=10).state_dict(), weights)
    code = ('import sys\n'
            'for m in ("mmengine", "mmpretrain", "mmcv", "sklearn"):\n    sys.modules[m] = None\n'
            f'sys.path.insert(0, {str(ROOT / "tools")!r})\n'
            'import vis_attention\n'
            f'sys.exit(vis_attention.main(["--model", "resnet18_se", "--num-classes", "10", "--checkpoint", '
            f'{str(weights)!r}, "--image", {str(image)!r}, "--img-size", "64", "--no-cam", "--out", {str(out)!r}]))')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          env={**__import__('os').environ, 'OMP_NUM_THREADS': '1'})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f'8 attention modules, 8 maps (0 spatial, 8 channel); wrote {out}'
