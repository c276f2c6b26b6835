_base_ = [
    '../_base_/models/resnet18.py', '../_base_/datasets/digits_bs32.py',
    '../_base_/schedules/digits_bs32_5e.py', '../_base_/default_runtime.py'
]
model = dict(head=dict(num_classes=10, topk=(1, )))
# 45 iterations an epoch: a log record every 10 gives analyze_logs.py several per epoch.
default_hooks = dict(logger=dict(interval=10))
