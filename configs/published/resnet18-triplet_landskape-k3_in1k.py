# resnet18_triplet with the authors' ImageNet weights: the architecture of timm's resnet18_triplet.landskape_k3_in1k.
# Weights: the authors' file (its name is theirs; resnet18_triplet_attention_k3.pth.tar below stands for it)
#   from https://drive.google.com/file/d/1p3_s2kA5NFWqCtp4zvZdc91_2kEQhbGD/view
# Convert: python tools/convert_published.py resnet18_triplet.landskape_k3_in1k \
#   resnet18_triplet_attention_k3.pth.tar work_dirs/resnet18-triplet_landskape-k3_in1k
# Expected: top-1 70.33% as reported in
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
        attn_kwargs=dict(kernel_size=3, pool_order='max_mean', bn_momentum=0.01, bn_eps=1e-05),
        timm_kwargs=dict(attn_position='block'),
        out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512, topk=(1, 5)))
