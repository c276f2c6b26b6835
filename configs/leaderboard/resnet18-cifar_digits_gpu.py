# Full leaderboard recipe for scikit-learn's digits on a GPU: the main job's data (32 px)
# with full-width ResNet-18, the CIFAR-style stem, 30 epochs, bfloat16 mixed precision
# and channels-last memory. Not deterministic (cuDNN picks its fastest kernels).
_base_ = ['../_base_/datasets/digits_bs32.py', '../_base_/default_runtime.py']

# (channels, height, width) at which params, FLOPs and latency are measured.
input_shape = (3, 32, 32)
# The leaderboard's trainer converts the model to channels-last memory when this is set.
channels_last = True
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ConvAttnResNet', depth=18, attention=None, out_indices=(3, ), stem='cifar'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=10, in_channels=512,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), topk=(1, )))

max_epochs = 30
optim_wrapper = dict(
    type='AmpOptimizerWrapper', dtype='bfloat16',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
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
default_hooks = dict(checkpoint=None)
