_base_ = [
    '../_base_/models/resnet18_cbam.py', '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256_coslr_warmup.py', '../_base_/default_runtime.py'
]
