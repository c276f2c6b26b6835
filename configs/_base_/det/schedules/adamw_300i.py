# The tiny real-data runs (one CPU, from random weights): 300 iterations of AdamW, linear warm-up
# over 20, cosine decay, gradient clipping; the recipe of convattn_plugin.dense_compare (the
# torchvision / smp route), so the two routes train alike. Tested at the end. The leaves set the
# iteration-based logging and checkpoint hooks (default_hooks is the runtime's key).
max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=20, end=max_iters, eta_min=0.0),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=10.0))

randomness = dict(seed=0)
