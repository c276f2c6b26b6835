"""The torchvision-detection and smp-segmentation routes, tiny, on the vendored real images.

The full comparison (``tools/dense_compare.py``, minutes) reads the wheels; these runs take a
few seconds each on the test copies of two of their images.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import convattn_plugin  # noqa: F401  (registers resnet18_cbam, ...)
from convattn_plugin.packaged_data import NucleiTiles, TreeTiles

dense_compare = pytest.importorskip(
    'convattn_plugin.dense_compare', exc_type=ImportError,
    reason='segmentation-models-pytorch, torchmetrics or faster-coco-eval is missing: '
           'pip install "convattn_plugin[dense]"')

DATA = Path(__file__).parent / 'data' / 'packaged'
OSBS = dict(images={'train': ['OSBS_029'], 'test': ['OSBS_029']},
            columns={'train': (0, 0.66), 'test': (0.66, 1)}, scale=1.0)
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures('one_thread')


class _Oracle(nn.Module):
    """Returns given outputs one batch at a time (a stand-in for a trained model)."""

    def __init__(self, outputs) -> None:
        super().__init__()
        self.outputs = list(outputs)

    def forward(self, images):
        n = len(images)
        out, self.outputs = self.outputs[:n], self.outputs[n:]
        return out if isinstance(images, list) else torch.stack(out)


def test_detection_map_of_perfect_and_of_shifted_boxes():
    tiles = TreeTiles(DATA, ['OSBS_029'], tile=200, scale=1.0)
    truth = [t for _, t in tiles]

    def predictions(shift):
        return [dict(boxes=t['boxes'] + shift, scores=torch.ones(len(t['boxes'])), labels=t['labels']) for t in truth]

    assert dense_compare.evaluate_detector(_Oracle(predictions(0.0)), tiles) == {'map': 1.0, 'map_50': 1.0}
    shifted = dense_compare.evaluate_detector(_Oracle(predictions(6.0)), tiles)
    assert 0 < shifted['map'] < 1


def test_segmentation_miou_of_perfect_and_of_background_only_predictions():
    tiles = NucleiTiles(DATA, tile=64, columns=(0.75, 1))
    masks = [m for _, m in tiles]
    perfect = [nn.functional.one_hot(m, 2).permute(2, 0, 1).float() for m in masks]
    assert dense_compare.evaluate_segmenter(_Oracle(perfect), tiles) == {'miou': 1.0, 'iou_nucleus': 1.0}
    background = [torch.stack([torch.ones(64, 64), torch.zeros(64, 64)]) for _ in masks]
    share = 1 - torch.stack(masks).float().mean().item()  # background IoU = share of background pixels
    got = dense_compare.evaluate_segmenter(_Oracle(background), tiles)
    assert got['iou_nucleus'] == 0 and got['miou'] == pytest.approx(share / 2)


def test_tiny_detection_run_learns():
    row = dense_compare.run_detection(DATA, 'resnet18_cbam', steps=12, batch_size=2, warmup=2, **OSBS)
    assert (row['train_tiles'], row['train_boxes'], row['test_tiles'], row['test_boxes']) == (6, 36, 3, 22)
    assert row['loss_last'] < 0.8 * row['loss_first']
    assert 0 <= row['map'] <= row['map_50'] <= 1


def test_tiny_segmentation_run_learns():
    row = dense_compare.run_segmentation(DATA, 'resnet18_cbam', steps=30, batch_size=4, warmup=2)
    background_only = (1 - NucleiTiles(DATA, tile=64, columns=(0.75, 1)).mask.float().mean().item()) / 2
    assert row['loss_last'] < 0.8 * row['loss_first']
    assert row['miou'] > max(0.5, background_only + 0.05), row


def test_tool_writes_rows_and_a_table(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / 'tools'))
    import dense_compare as tool  # tools/dense_compare.py
    out = tmp_path / 'rows.json'
    assert tool.main([str(DATA), '--tasks', 'segmentation', '--backbones', 'resnet18', '--seg-steps', '2',
                      '--out', str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r['task'], r['backbone'], r['steps']) for r in rows] == [('segmentation', 'resnet18', 2)]
    assert '| segmentation | resnet18 | 0 | 2 |' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        tool.main([str(tmp_path / 'missing')])
    assert 'pip download --no-deps deepforest==2.1.0 stardist==0.9.2' in capsys.readouterr().err
