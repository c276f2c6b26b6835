# Plain ResNet-18: the same backbone class as resnet18_cbam with no attention, the baseline.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvAttnBackbone', arch='resnet18', out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5),
    ))
