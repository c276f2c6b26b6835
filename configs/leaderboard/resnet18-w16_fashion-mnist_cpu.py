# Leaderboard recipe for Fashion-MNIST on CPU cores: ResNet-18 at a quarter of its width
# (stage widths 16, 32, 64, 128 through timm ResNet's `channels`), one input channel, the
# 28 px images resized to 40 px so that the ImageNet stem (stride 4) leaves a 10x10 map
# for layer1 (then 5x5, 3x3, 2x2), all 60,000 training images, five epochs, mirror images
# as the only augmentation (random shifts cost accuracy in so short a schedule). Sized so
# that the baseline and 13 kinds with 3 seeds fit in under 2 hours on 2 idle cores with
# --jobs 2 (measured: see README.md here). `tools/leaderboard.py` sets the attention kind
# (`model.backbone.attention`, None for the plain baseline) and the seed.
_base_ = ['../_base_/datasets/fashion_mnist_bs128.py', '../_base_/default_runtime.py']

input_size = 40
# (channels, height, width) at which params, FLOPs and latency are measured.
input_shape = (1, input_size, input_size)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet', depth=18, attention=None, out_indices=(3, ), stem='imagenet',
        timm_kwargs=dict(in_chans=1, channels=(16, 32, 64, 128))),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=10, in_channels=128,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), topk=(1, )))

train_pipeline = [
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=(input_size, input_size), interpolation='bilinear'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=(input_size, input_size), interpolation='bilinear'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

# SGD with Nesterov momentum, a fifth of an epoch of linear warm-up, then cosine decay to 0;
# no weight decay on BatchNorm and biases.
max_epochs = 5
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, nesterov=True, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0, end=0.2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 0.2, eta_min=0., by_epoch=True, begin=0.2, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
# No validation (mmengine would run it after the last epoch): the leaderboard tests once.
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict()
# Channels-last memory: on CPU cores (oneDNN) a training step takes about 0.6x the time.
channels_last = True

# Same seed, same machine, same top-1 (deterministic algorithms cost little on CPU).
randomness = dict(seed=0, deterministic=True)
# A run is redone as a whole if stopped: no checkpoints needed.
default_hooks = dict(checkpoint=None, logger=dict(type='LoggerHook', interval=50))
