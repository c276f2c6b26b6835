# ResNet-50 with CBAM in every residual block (timm's ResNet; preset name 'resnet50_cbam').
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvAttnBackbone', arch='resnet50_cbam', out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5),
    ))
