# mmdet 3.3's RetinaNet R50-FPN (configs/_base_/models/retinanet_r50_fpn.py) with the backbone
# replaced by ConvAttnResNet-50 with CBAM in every block (the CBAM paper's placement: after the
# last BN of the residual branch, before the addition). Outputs layer1..layer4 (out_indices
# 0-3, strides 4-32, channels 256-2048), as mmdet's ResNet does.
model = dict(
    type='RetinaNet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='ConvAttnResNet',
        depth=50,
        attention='cbam',
        out_indices=(0, 1, 2, 3),
        # Stem only: layer1 holds freshly initialised CBAM, which must train (mmdet's
        # plain R50 freezes layer1 too, frozen_stages=1).
        frozen_stages=0,
        norm_eval=True,
        # A plain ResNet-50 (torchvision's layout is timm's): the convolutions and BNs load,
        # the attention keeps its own initialisation.
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5),
    bbox_head=dict(
        type='RetinaHead',
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=3,
            ratios=[0.5, 1.0, 2.0],
            strides=[8, 16, 32, 64, 128]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'),  # focal loss: no sampling
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))
