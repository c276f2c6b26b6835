_base_ = [
    '../_base_/models/resnet50_cbam.py', '../_base_/datasets/cifar10_bs16.py',
    '../_base_/schedules/cifar10_bs128_coslr_warmup.py', '../_base_/default_runtime.py'
]
# 32 px inputs: the 3x3 stride-1 stem of mmpretrain's ResNet_CIFAR, no max pool.
model = dict(backbone=dict(stem='cifar'), head=dict(num_classes=10, topk=(1, )))
