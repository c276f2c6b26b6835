# Fashion-MNIST (70,000 real 28x28 grayscale photos of clothing, 10 classes; 60,000 train /
# 10,000 test), read from the four IDX files, gzipped or not, in `data_root`:
# `apt-get install dataset-fashion-mnist` puts them in /usr/share/datasets/fashion-mnist/
# (see convattn_plugin/mm/fashion_mnist.py). One channel: a backbone built for it takes
# in_chans=1 (for ConvAttnResNet: timm_kwargs=dict(in_chans=1)).
#
# CPU-friendly loaders, as for digits: no worker processes, no pinned memory.
dataset_type = 'FashionMNISTFolder'
data_root = '/usr/share/datasets/fashion-mnist'
img_size = 28
data_preprocessor = dict(
    num_classes=10,
    # Mean and standard deviation of the training images (0.2860 and 0.3530 of 255).
    mean=[72.94],
    std=[90.02],
    to_rgb=False,
)

train_pipeline = [
    # Shifts of up to 2 px and mirror images (a mirrored shirt is still a shirt).
    dict(type='RandomCrop', crop_size=img_size, padding=2, pad_val=0),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]

test_pipeline = [
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)

val_dataloader = dict(
    batch_size=500,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
