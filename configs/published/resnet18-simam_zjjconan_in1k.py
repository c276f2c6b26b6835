# resnet18_simam with the authors' ImageNet weights: the architecture of timm's resnet18_simam.zjjconan_in1k.
# Weights: the authors' file (its name is theirs; imagenet-resnet18-simam-param0.1.pth.tar below stands for it)
#   from https://drive.google.com/drive/folders/1rRT0UCPeRLPdTCJvv43hvAnGnS49nIWn?usp=sharing
# Convert: python tools/convert_published.py resnet18_simam.zjjconan_in1k \
#   imagenet-resnet18-simam-param0.1.pth.tar work_dirs/resnet18-simam_zjjconan_in1k
# Expected: top-1 71.31% as reported in
#   the authors' README (github.com/ZjjConan/SimAM) (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=18,
        attention='simam',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(e_lambda=0.1),
        timm_kwargs=dict(attn_position='before_bn2'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512, topk=(1, 5)))
