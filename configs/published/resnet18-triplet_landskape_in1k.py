# resnet18_triplet with the authors' ImageNet weights: the architecture of timm's resnet18_triplet.landskape_in1k.
# Weights: the authors' file (its name is theirs; resnet18_triplet_attention_k7.pth.tar below stands for it)
#   from https://drive.google.com/file/d/1jIDfA0Psce10L06hU0Rtz8t7s2U1oqLH/view
# Convert: python tools/convert_published.py resnet18_triplet.landskape_in1k \
#   resnet18_triplet_attention_k7.pth.tar work_dirs/resnet18-triplet_landskape_in1k
# Expected: top-1 71.09% as reported in
#   the authors' README (github.com/landskape-ai/triplet-attention), as 100 - top-1 error (not measured here).
_base_ = [
    '../_base_/datasets/imagenet_bs32.py', '../_base_/schedules/imagenet_bs256_coslr_warmup.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet',
        depth=18,
        attention='triplet',
        attn_stages=(0, 1, 2, 3),
        attn_kwargs=dict(kernel_size=7, pool_order='max_mean', bn_momentum=0.01, bn_eps=1e-05),
        timm_kwargs=dict(attn_position='block'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512, topk=(1, 5)))
