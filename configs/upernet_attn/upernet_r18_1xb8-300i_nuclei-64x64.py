# The measured tiny run, plain baseline: a small UPerNet on ConvAttnResNet-18 (no attention)
# trained from random weights for 300 iterations of 8 random 64 px crops on one CPU, on a real
# image of nuclei (data/nuclei_seg/, written by tools/mm_dense_data.py); mIoU (background,
# nucleus) by mmseg's IoUMetric. upernet_r18-cbam_1xb8-300i_nuclei-64x64.py differs only in the
# backbone's attention.
_base_ = [
    '../_base_/seg/models/upernet_r18_small.py',
    '../_base_/seg/datasets/nuclei.py',
    '../_base_/seg/default_runtime.py',
    '../_base_/seg/schedules/adamw_300i.py',
]
crop_size = (64, 64)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
