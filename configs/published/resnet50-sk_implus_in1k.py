# resnet50_sk with the authors' ImageNet weights: the architecture of timm's resnet50_sk.implus_in1k.
# Weights: the authors' file (its name is theirs; sk_resnet50.pth.tar below stands for it)
#   from https://drive.google.com/file/d/1DGYWPeKc7dyJ9i-zPJcPPa2engExPOnJ/view?usp=sharing
# Convert: python tools/convert_published.py resnet50_sk.implus_in1k \
#   sk_resnet50.pth.tar work_dirs/resnet50-sk_implus_in1k
# Expected: top-1 77.54% / top-5 93.70% as reported in
#   the authors' README (github.com/implus/PytorchInsight) (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=50,
        attention='sk',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(dilations=(1, 1), groups=(1, 32), reduction=16, min_rd_channels=1),
        timm_kwargs=dict(attn_position='conv2'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
