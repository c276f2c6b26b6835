"""Publishing and converting refuse what is not plain, finite weights, with messages that say so."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip('mmpretrain')

import convattn_plugin.mm  # noqa: E402,F401
from convattn_plugin.checkpoint import NonFiniteWeightsError, UnsafeCheckpointError  # noqa: E402
from convattn_plugin.release import build_mm_model, publish, read_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CFG_CBAM = REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py'

pytestmark = pytest.mark.usefixtures('one_thread')


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('code ran')",)


def test_publish_names_non_finite_weights_not_the_layouts(tmp_path):
    state = build_mm_model(CFG_CBAM).state_dict()
    state['head.fc.bias'][3] = float('nan')
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    with pytest.raises(NonFiniteWeightsError, match=r'epoch_1\.pth has non-finite values .* head\.fc\.bias') as e:
        publish(ckpt, CFG_CBAM, tmp_path / 'out')
    assert 'layout' not in str(e.value)
    assert not (tmp_path / 'out').exists()


def test_read_checkpoint_refuses_code(tmp_path):
    marker = tmp_path / 'marker'
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'w': _Evil(marker)}}, ckpt)
    with pytest.raises(UnsafeCheckpointError, match='refused'):
        read_checkpoint(ckpt)
    assert not marker.exists()
