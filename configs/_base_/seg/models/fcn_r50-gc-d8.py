# mmseg 1.2's FCN R50-D8 (configs/_base_/models/fcn_r50-d8.py) with the backbone replaced by
# ConvAttnResNet-50 with GCNet's global context blocks (r4) in every block of layer2..layer4,
# dilated to output stride 8 by timm (`output_stride=8`: layer3 and layer4 dilated 2 and 4, as
# mmseg's D8), initialised from torchvision's plain ResNet-50 (GC's output starts at zero).
norm_cfg = dict(type='SyncBN', requires_grad=True)
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
        depth=50,
        attention='gc',
        attn_kwargs=dict(rd_ratio=1 / 4),
        out_indices=(0, 1, 2, 3),
        norm_eval=False,
        timm_kwargs=dict(output_stride=8),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    decode_head=dict(
        type='FCNHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        num_convs=2,
        concat_input=True,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
