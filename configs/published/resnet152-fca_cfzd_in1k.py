# resnet152_fca with the authors' ImageNet weights: the architecture of timm's resnet152_fca.cfzd_in1k.
# Weights: fca152.pth (a plain state dict)
#   from https://github.com/cfzd/FcaNet/releases/download/v1.0/fca152.pth (the authors' v1.0 release; their
#   README also links it on Google Drive and Baidu Pan)
# Convert: python tools/convert_published.py resnet152_fca.cfzd_in1k \
#   fca152.pth work_dirs/resnet152-fca_cfzd_in1k
# Expected: top-1 80.08% as reported in
#   the authors' README (github.com/cfzd/FcaNet), column 'Reported' (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=152,
        attention='fca',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(freq_sel='top', num_freq=16, rd_ratio=1 / 16, rd_rounding='floor'),
        timm_kwargs=dict(
            attn_position='block',
            # DCT filter size per stage: the stage's map at 224 px (the authors' c2wh)
            attn_stage_kwargs=[dict(dct_size=56), dict(dct_size=28), dict(dct_size=14), dict(dct_size=7)]),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
