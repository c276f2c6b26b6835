# The measured tiny run, plain baseline: a small Faster R-CNN on ConvAttnResNet-18 (no attention)
# trained from random weights for 300 iterations of 4 tiles on one CPU, on real aerial images of
# trees (data/trees_coco/, written by tools/mm_dense_data.py); COCO box mAP by mmdet's CocoMetric.
# faster-rcnn_r18-cbam_fpn_1xb4-300i_trees.py differs only in the backbone's attention.
_base_ = [
    '../_base_/det/models/faster-rcnn_r18_fpn_small.py',
    '../_base_/det/datasets/trees_coco.py',
    '../_base_/det/schedules/adamw_300i.py',
    '../_base_/det/default_runtime.py',
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=300, max_keep_ckpts=1))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
