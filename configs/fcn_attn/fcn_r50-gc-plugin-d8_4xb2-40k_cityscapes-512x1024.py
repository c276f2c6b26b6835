# The plugin route: mmseg's own FCN R50-D8 model (its own ResNetV1c, from mmseg's packaged
# configs) gains GCNet's block (r4, after conv3 of layer2..layer4) through mmcv's `plugins=`, one
# line; ConvAttnGc keeps its zero-initialised output through mmseg's init_weights().
# mmseg's ResNet takes plugins on Bottleneck stages only (not ResNet-18/34, not single blocks);
# ConvAttnResNet does both (fcn_r50-gc-d8_...).
_base_ = [
    'mmseg::_base_/models/fcn_r50-d8.py',
    '../_base_/seg/datasets/cityscapes.py',
    '../_base_/seg/default_runtime.py',
    '../_base_/seg/schedules/schedule_40k.py',
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(plugins=[dict(cfg=dict(type='ConvAttnGc', rd_ratio=1 / 4),
                                stages=(False, True, True, True), position='after_conv3')]))
