# resnet101_sk with the authors' ImageNet weights: the architecture of timm's resnet101_sk.implus_in1k.
# Weights: the authors' file (its name is theirs; sk_resnet101.pth.tar below stands for it)
#   from https://drive.google.com/file/d/1WB7HXx-cvUIxFRe-M61XZIzUN0a3nsbF/view?usp=sharing
# Convert: python tools/convert_published.py resnet101_sk.implus_in1k \
#   sk_resnet101.pth.tar work_dirs/resnet101-sk_implus_in1k
# Expected: top-1 78.79% / top-5 94.27% as reported in
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
        attention='sk',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(dilations=(1, 1), groups=(1, 32), reduction=16, min_rd_channels=1),
        timm_kwargs=dict(attn_position='conv2'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
