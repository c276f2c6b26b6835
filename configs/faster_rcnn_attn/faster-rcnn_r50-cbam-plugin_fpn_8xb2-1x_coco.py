# The plugin route: mmdet's own Faster R-CNN R50-FPN model (its own ResNet, from mmdet's
# packaged configs) gains CBAM through mmcv's `plugins=`, one line. mmdet's ResNet places a
# plugin after conv1/conv2/conv3 of a Bottleneck, per stage: it cannot do BasicBlock
# (ResNet-18/34: "Not implemented yet") nor single blocks; ConvAttnResNet can (see the _r50-gc_ config).
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../_base_/det/datasets/coco_detection.py',
    '../_base_/det/schedules/schedule_1x.py',
    '../_base_/det/default_runtime.py',
]
model = dict(backbone=dict(
    plugins=[dict(cfg=dict(type='ConvAttnCbam'), stages=(False, True, True, True), position='after_conv3')]))
