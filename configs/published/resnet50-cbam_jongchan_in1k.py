# resnet50_cbam with the authors' ImageNet weights: the architecture of timm's resnet50_cbam.jongchan_in1k.
# Weights: RESNET50_CBAM_new_name_wrap.pth
#   from https://drive.google.com/file/d/1mvAVvhLR_2XY_bPYxh-SEz4vDmGzSArO/view?usp=sharing (Google Drive since 2022)
# Convert: python tools/convert_published.py resnet50_cbam.jongchan_in1k \
#   RESNET50_CBAM_new_name_wrap.pth work_dirs/resnet50-cbam_jongchan_in1k
# Expected: top-1 77.62% as reported in
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
        attention='cbam',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(
            rd_ratio=1 / 16, rd_rounding='floor', mlp_bias=True, pool_order='max_mean', bn_momentum=0.01,
            bn_eps=1e-05, kernel_size=7),
        timm_kwargs=dict(attn_position='block'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
