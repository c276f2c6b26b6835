# Full leaderboard recipe for Fashion-MNIST on a GPU: full-width ResNet-18 with the
# CIFAR-style stem (3x3 stride-1 convolution, no max pool) on the 28 px images, all
# 60,000 training images, 30 epochs, bfloat16 mixed precision and channels-last memory.
# Not deterministic (cuDNN picks its fastest kernels); seeds still fix the data order.
_base_ = ['../_base_/datasets/fashion_mnist_bs128.py', '../_base_/default_runtime.py']

# (channels, height, width) at which params, FLOPs and latency are measured.
input_shape = (1, 28, 28)
# The leaderboard's trainer converts the model to channels-last memory when this is set.
channels_last = True
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet', depth=18, attention=None, out_indices=(3, ), stem='cifar',
        timm_kwargs=dict(in_chans=1)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=10, in_channels=512,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), topk=(1, )))

train_dataloader = dict(batch_size=256, num_workers=4, persistent_workers=True, pin_memory=True)
test_dataloader = dict(batch_size=1000, num_workers=2, persistent_workers=True, pin_memory=True)

max_epochs = 30
optim_wrapper = dict(
    type='AmpOptimizerWrapper', dtype='bfloat16',
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, nesterov=True, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=0., by_epoch=True, begin=1, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
# No validation (mmengine would run it after the last epoch): the leaderboard tests once.
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict()

randomness = dict(seed=0, deterministic=False)
env_cfg = dict(cudnn_benchmark=True)
# A stopped run is redone as a whole: no checkpoints needed.
default_hooks = dict(checkpoint=None, logger=dict(type='LoggerHook', interval=50))
