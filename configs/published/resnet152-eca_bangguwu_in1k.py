# resnet152_eca with the authors' ImageNet weights: the architecture of timm's resnet152_eca.bangguwu_in1k.
# Weights: eca_resnet152_k3357.pth.tar
#   from https://drive.google.com/open?id=1_bYnaOg9ptsILC_iC7uQ5Izv-u2rjYG5
# Convert: python tools/convert_published.py resnet152_eca.bangguwu_in1k \
#   eca_resnet152_k3357.pth.tar work_dirs/resnet152-eca_bangguwu_in1k
# Expected: top-1 78.92% as reported in
#   the authors' README (github.com/BangguWu/ECANet) (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=152,
        attention='eca',
        attn_stages=(0, 1, 2, 3),
        timm_kwargs=dict(
            attn_position='block',
            # kernel size per stage, as in the authors' file name (eca_resnet152_k3357)
            attn_stage_kwargs=[dict(kernel_size=3), dict(kernel_size=3), dict(kernel_size=5), dict(kernel_size=7)]),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
