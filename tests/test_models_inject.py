"""``add_attention``: any kind into ResNet, VGG, ConvNeXt and MobileNet at named positions."""
from __future__ import annotations

import pytest
import timm
import torch
import torch.nn as nn

import convattn_plugin  # noqa: F401  (registers the models)
from convattn_plugin.layers import CBAM, EfficientChannelAttn, SqueezeExcite
from convattn_plugin.models import ActAttn, add_attention

IMG = 64


def _shapes(model: nn.Module) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in model.state_dict().items()}


def _check_trains(model: nn.Module, num_classes: int) -> None:
    out = model.train()(torch.randn(2, 3, IMG, IMG))
    assert out.shape == (2, num_classes)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_resnet_blocks_match_the_registered_model():
    model = add_attention(timm.create_model('resnet18', num_classes=5), 'cbam', 'layer*.*')
    assert all(isinstance(b.se, CBAM) for s in range(1, 5) for b in getattr(model, f'layer{s}'))
    assert _shapes(model) == _shapes(timm.create_model('resnet18_cbam', num_classes=5, device='meta'))
    _check_trains(model, 5)


def test_vgg_stage_ends_match_the_registered_model():
    vgg = timm.create_model('vgg11', num_classes=5, mlp_ratio=1 / 64)
    model = add_attention(vgg, 'localattn', [info['module'] for info in vgg.feature_info[:-1]])
    assert all(isinstance(model.features[i], ActAttn) for i in model.feature_ends[:-1])
    registered = timm.create_model('vgg11_localattn', num_classes=5, mlp_ratio=1 / 64, device='meta')
    assert _shapes(model) == _shapes(registered)
    _check_trains(model, 5)


def test_convnext_stage_outputs():
    plain = _shapes(timm.create_model('convnext_atto', device='meta'))
    model = add_attention(timm.create_model('convnext_atto', num_classes=5), 'se', 'stages.*.blocks', rd_ratio=1 / 8)
    assert [s.blocks.attn.channels for s in model.stages] == [40, 80, 160, 320]
    assert [s.blocks.attn.fc1.out_channels for s in model.stages] == [5, 10, 20, 40]
    shapes = _shapes(model)
    assert {k: v for k, v in shapes.items() if '.attn.' not in k}.keys() == plain.keys()
    _check_trains(model, 5)


def test_mobilenet_blocks_use_their_se_slot():
    model = add_attention(timm.create_model('mobilenetv2_050', num_classes=5), 'eca', 'blocks.*.*', placement='slot')
    blocks = [b for stage in model.blocks for b in stage]
    assert blocks and all(isinstance(b.se, EfficientChannelAttn) for b in blocks)
    _check_trains(model, 5)


def test_taken_slot_gives_the_end_of_the_branch_and_output_placement_appends():
    model = add_attention(timm.create_model('efficientnet_b0'), 'cbam', 'blocks.1.0', placement='slot')
    assert isinstance(model.blocks[1][0].bn3.act, ActAttn)  # after the last norm, before the addition
    assert type(model.blocks[1][0].se).__name__ == 'SqueezeExcite'  # timm's own SE untouched
    model = timm.create_model('convnext_atto', device='meta')
    with pytest.raises(ValueError, match=r"'stages\.0\.blocks\.0' .* no empty attention slot \(no `se` attribute\)"):
        add_attention(model, 'cbam', 'stages.0.blocks.0', placement='slot')
    model = add_attention(timm.create_model('efficientnet_b0'), 'cbam', 'blocks.*', placement='output')
    assert [s.attn.channels for s in model.blocks] == [16, 24, 40, 80, 112, 192, 320]


@pytest.mark.parametrize('positions,match', [
    ('layer9.*', r"position 'layer9\.\*' matches no module of ResNet .*top-level modules are: conv1, bn1"),
    (['layer1.0', 'conv1'], r"position 'conv1' \(Conv2d\) cannot take attention without renaming its parameters"),
    (['layer1', 'layer1.0'], r"positions select both 'layer1' and its submodule 'layer1\.0'"),
    ([], r'positions is empty'),
])
def test_bad_positions_are_errors_and_leave_the_model_unchanged(positions, match):
    model = timm.create_model('resnet18')
    before = _shapes(model)
    with pytest.raises(ValueError, match=match):
        add_attention(model, 'se', positions)
    assert _shapes(model) == before
    assert model.layer1[0].se is None


def test_option_that_does_not_fit_is_an_error_and_leaves_the_model_unchanged():
    model = timm.create_model('resnet18')
    with pytest.raises(ValueError, match=r'position layer1\.0\.se \(64 channels\): rd_channels=100 does not fit'):
        add_attention(model, 'se', 'layer*.*', rd_channels=100)
    assert all(b.se is None for s in range(1, 5) for b in getattr(model, f'layer{s}'))
    with pytest.raises(ValueError, match='unknown attention kind'):
        add_attention(model, 'no_such_kind', 'layer1.0')
    with pytest.raises(ValueError, match='placement must be one of'):
        add_attention(model, 'se', 'layer1.0', placement='inside')


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten())
        self.unused = nn.Sequential(nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_positions_off_the_forward_path_or_not_4d():
    with pytest.raises(ValueError, match=r'attention position unused\.attn is not on the forward path of _Net'):
        add_attention(_Net(), 'se', 'unused')
    with pytest.raises(ValueError, match=r'attention position head\.attn gets a tensor of shape \(1, \d+\)'):
        add_attention(_Net(), 'se', 'head')
    model = add_attention(_Net(), 'se', 'body.1', rd_channels=2)  # a parameter-free activation is wrapped
    assert isinstance(model.body[1], ActAttn) and isinstance(model.body[1].attn, SqueezeExcite)
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 8 * 6 * 6)
