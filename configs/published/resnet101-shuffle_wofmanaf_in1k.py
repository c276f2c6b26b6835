# resnet101_shuffle with the authors' ImageNet weights: the architecture of timm's resnet101_shuffle.wofmanaf_in1k.
# Weights: the authors' file (its name is theirs; sa_resnet101.pth.tar below stands for it)
#   from https://pan.baidu.com/s/16L0enJxKMd9LJ8B4dbGmtw
# Convert: python tools/convert_published.py resnet101_shuffle.wofmanaf_in1k \
#   sa_resnet101.pth.tar work_dirs/resnet101-shuffle_wofmanaf_in1k
# Expected: top-1 78.95% as reported in
#   the authors' README (github.com/wofmanaf/SA-Net) (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=101,
        attention='shuffle',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(groups=64),
        timm_kwargs=dict(attn_position='block'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
