_base_ = [
    '../_base_/models/vgg16_localattn.py', '../_base_/datasets/digits_bs32.py',
    '../_base_/schedules/digits_bs32_5e.py', '../_base_/default_runtime.py'
]
# VGG-16 has no BatchNorm, and each of the five attention gates scales activations by
# about 0.25 at initialisation (x * sigmoid * sigmoid): the head sees ~1e-3 of plain
# VGG's signal. On digits, SGD at VGG's usual 0.01 (and AdamW at 1e-3) stayed at chance
# for 5 epochs; BatchNorm in the classifier and lr 0.05 (with the warm-up) train it.
optim_wrapper = dict(optimizer=dict(lr=0.05))
model = dict(head=dict(num_classes=10, mid_channels=[512], norm_cfg=dict(type='BN1d'), topk=(1, )))
# 45 iterations an epoch: a log record every 10 gives analyze_logs.py several per epoch.
default_hooks = dict(logger=dict(interval=10))
