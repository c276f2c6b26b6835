# ImageNet, total batch 256 (8 GPUs x 32): SGD with Nesterov momentum, 5 epochs of linear
# warm-up, cosine decay to 100 epochs, weight decay 1e-4 off BN and biases (the training
# advice of the project's VGG-with-attention design: warm-up, decay, weight decay; label
# smoothing is in the model's head loss).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
)

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=95, by_epoch=True, begin=5, end=100),
]

train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=256)
