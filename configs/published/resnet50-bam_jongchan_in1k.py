# resnet50_bam with the authors' ImageNet weights: the architecture of timm's resnet50_bam.jongchan_in1k.
# Weights: RESNET50_IMAGENET_BAM_best.pth.tar
#   from https://drive.google.com/file/d/1auVf70gfL0ol40bvaX5rlbpn9cKIxhAL/view?usp=sharing (Google Drive since 2022)
# Convert: python tools/convert_published.py resnet50_bam.jongchan_in1k \
#   RESNET50_IMAGENET_BAM_best.pth.tar work_dirs/resnet50-bam_jongchan_in1k
# Expected: top-1 76.86% as reported in
#   the authors' README (github.com/Jongchan/attention-module) (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=50,
        attention='bam',
        attn_stages=(0, 1, 2),
        attn_kwargs=dict(rd_ratio=1 / 16, rd_rounding='floor', form='official', dilation=4,
                         num_dilated_convs=2),
        timm_kwargs=dict(attn_position='stage_end'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
