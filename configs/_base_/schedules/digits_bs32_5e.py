# Digits on one CPU, batch 32 (45 iterations an epoch): SGD with Nesterov momentum, one
# epoch of linear warm-up, cosine decay over the other four, weight decay 5e-4 off BN
# and biases; label smoothing 0.1 is in the model's head loss (the training advice
# of the project's VGG-with-attention design).
# Tuned to finish on 2 CPU cores in minutes: see configs/resnet_cbam/README.md.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
)

param_scheduler = [
    dict(type='LinearLR', start_factor=0.02, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=4, by_epoch=True, begin=1, end=5, convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=5, val_interval=5)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=32)

# Reproducible runs (EpochSeedHook keeps them so across --resume).
randomness = dict(seed=0, deterministic=False)
