# resnet50_se with the authors' ImageNet weights: the architecture of timm's resnet50_se.timm_a1_in1k.
# Weights: model.safetensors
#   from https://huggingface.co/timm/seresnet50.a1_in1k
# Convert: python tools/convert_published.py resnet50_se.timm_a1_in1k \
#   model.safetensors work_dirs/resnet50-se_timm-a1_in1k
# Expected: top-1 81.10% as reported in
#   timm's results table (results/results-imagenet.csv: 288 px, crop 1.0, bicubic) (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=50,
        attention='se',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(rd_ratio=1 / 16),
        timm_kwargs=dict(attn_position='block'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
# timm's A1 recipe evaluates at 288 px, bicubic, whole image (test_crop_pct 1.0).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=288, edge='short', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=288),
    dict(type='PackInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
