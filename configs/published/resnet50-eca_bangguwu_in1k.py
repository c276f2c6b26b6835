# resnet50_eca with the authors' ImageNet weights: the architecture of timm's resnet50_eca.bangguwu_in1k.
# Weights: eca_resnet50_k3557.pth.tar
#   from https://drive.google.com/open?id=1670rce333c_lyMWFzBlNZoVUvtxbCF_U
# Convert: python tools/convert_published.py resnet50_eca.bangguwu_in1k \
#   eca_resnet50_k3557.pth.tar work_dirs/resnet50-eca_bangguwu_in1k
# Expected: top-1 77.42% as reported in
#   the authors' README (github.com/BangguWu/ECANet) (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=50,
        attention='eca',
        attn_stages=(0, 1, 2, 3),
        timm_kwargs=dict(
            attn_position='block',
            # kernel size per stage, as in the authors' file name (eca_resnet50_k3557)
            attn_stage_kwargs=[dict(kernel_size=3), dict(kernel_size=5), dict(kernel_size=5), dict(kernel_size=7)]),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048, topk=(1, 5)))
