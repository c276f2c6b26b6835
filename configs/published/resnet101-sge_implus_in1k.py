# resnet101_sge with the authors' ImageNet weights: the architecture of timm's resnet101_sge.implus_in1k.
# Weights: the authors' file (its name is theirs; sge_resnet101.pth.tar below stands for it)
#   from https://drive.google.com/file/d/1ihu0NVvVJZEv0zj49izapn4V0FhwxCh6/view?usp=sharing
# Convert: python tools/convert_published.py resnet101_sge.implus_in1k \
#   sge_resnet101.pth.tar work_dirs/resnet101-sge_implus_in1k
# Expected: top-1 78.80% / top-5 94.37% as reported in
#   the authors' README (github.com/implus/PytorchInsight) (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=101,
        attention='sge',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(groups=64),
        timm_kwargs=dict(attn_position='block'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
