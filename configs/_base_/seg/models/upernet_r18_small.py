# A small UPerNet for 64 px crops, the mmseg counterpart of convattn_plugin.dense_compare's smp
# Unet: ConvAttnResNet-18 (BasicBlock; plain here, a leaf sets `attention`), a 64-channel UPerHead
# over layer1..layer4, two classes, no auxiliary head. From random weights (nothing to download),
# BN trained (plain BN: one process).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ConvAttnResNet',
        depth=18,
        attention=None,
        out_indices=(0, 1, 2, 3),
        norm_eval=False,
        init_cfg=None),
    decode_head=dict(
        type='UPerHead',
        in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2),  # layer4 is 2 x 2 on a 64 px crop
        channels=64,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
