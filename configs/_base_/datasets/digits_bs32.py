# scikit-learn's 8x8 handwritten digits (ships with scikit-learn: nothing to download),
# fixed split of 1,437 train / 360 test images (36 per digit; see
# convattn_plugin.mm.datasets), upsampled to 32x32 in the pipeline.
#
# CPU-friendly loaders: no worker processes, so no persistent workers (mmpretrain's
# tools/train.py would otherwise force persistent_workers=True, which fails with 0
# workers) and no pinned memory.
dataset_type = 'SklearnDigits'
img_size = 32
data_preprocessor = dict(
    num_classes=10,
    # uint8 images of 0..255, gray repeated on 3 channels: map to [-1, 1].
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    to_rgb=False,
)

train_pipeline = [
    dict(type='Resize', scale=(img_size, img_size), interpolation='bilinear'),
    # Shifts of up to 2 px; no flips (a mirrored digit is another symbol).
    dict(type='RandomCrop', crop_size=img_size, padding=2, pad_val=0),
    dict(type='PackInputs'),
]

test_pipeline = [
    # The data set gives arrays; tools that start from an image file (vis_cam.py) need loading.
    dict(type='LoadImageUnlessGiven'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='bilinear'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(type=dataset_type, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)

val_dataloader = dict(
    batch_size=120,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(type=dataset_type, split='test', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))

test_dataloader = val_dataloader
test_evaluator = val_evaluator
