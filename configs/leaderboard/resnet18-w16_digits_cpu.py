# Leaderboard recipe for scikit-learn's digits on CPU cores: the main job's data and
# schedule (32 px, five epochs, batch 32) with ResNet-18 at a quarter of its width (stage
# widths 16, 32, 64, 128 through timm ResNet's `channels`), so that the plain baseline and
# every kind with three seeds take minutes. `tools/leaderboard.py` sets the attention kind
# (`model.backbone.attention`, None for the plain baseline) and the seed.
_base_ = [
    '../_base_/datasets/digits_bs32.py', '../_base_/schedules/digits_bs32_5e.py',
    '../_base_/default_runtime.py'
]

# (channels, height, width) at which params, FLOPs and latency are measured.
input_shape = (3, 32, 32)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ConvAttnResNet', depth=18, attention=None, out_indices=(3, ), stem='imagenet',
        timm_kwargs=dict(channels=(16, 32, 64, 128))),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead', num_classes=10, in_channels=128,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'), topk=(1, )))

# No validation (mmengine would run it after the last epoch): the leaderboard tests once.
val_dataloader = None
val_evaluator = None
val_cfg = None
# Channels-last memory: on CPU cores (oneDNN) a training step takes less time.
channels_last = True
# Same seed, same machine, same top-1 (deterministic algorithms cost little on CPU).
randomness = dict(seed=0, deterministic=True)
# A stopped run is redone as a whole: no checkpoints needed.
default_hooks = dict(checkpoint=None)
