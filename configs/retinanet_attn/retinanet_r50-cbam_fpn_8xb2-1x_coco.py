# RetinaNet R50-FPN, 1x on COCO (mmdet 3.3's retinanet_r50_fpn_1x_coco.py) on ConvAttnResNet-50
# with CBAM in every block, initialised from torchvision's plain ResNet-50. For 8 GPUs x 2 images.
_base_ = [
    '../_base_/det/models/retinanet_r50-cbam_fpn.py',
    '../_base_/det/datasets/coco_detection.py',
    '../_base_/det/schedules/schedule_1x.py',
    '../_base_/det/default_runtime.py',
]
# mmdet's RetinaNet recipe: lr 0.01 for 8 x 2 images.
optim_wrapper = dict(optimizer=dict(lr=0.01))
