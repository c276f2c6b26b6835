# Faster R-CNN R50-FPN, 1x on COCO (mmdet 3.3's faster-rcnn_r50_fpn_1x_coco.py) on
# ConvAttnResNet-50 with GCNet's global context blocks (r4) in layer2..layer4, initialised from
# torchvision's plain ResNet-50. For 8 GPUs x 2 images.
_base_ = [
    '../_base_/det/models/faster-rcnn_r50-gc_fpn.py',
    '../_base_/det/datasets/coco_detection.py',
    '../_base_/det/schedules/schedule_1x.py',
    '../_base_/det/default_runtime.py',
]
