# VGG-16 with local (channel x spatial) attention ending each conv stage: the network the
# project was designed around (preset name 'vgg16_localattn'). The classifier keeps VGG's two
# 4096-wide layers with dropout (that design's advice) after global average pooling.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvAttnBackbone', arch='vgg16_localattn', out_indices=(4, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='StackedLinearClsHead',
        num_classes=1000,
        in_channels=512,
        mid_channels=[4096, 4096],
        dropout_rate=0.5,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        topk=(1, 5),
    ))
