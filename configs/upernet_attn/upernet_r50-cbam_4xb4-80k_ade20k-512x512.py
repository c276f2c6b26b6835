# UPerNet R50, 80k iterations on ADE20K at 512 x 512 (mmseg 1.2's
# upernet_r50_4xb4-80k_ade20k-512x512.py) on ConvAttnResNet-50 with CBAM in every block,
# initialised from torchvision's plain ResNet-50. For 4 GPUs x 4 images.
_base_ = [
    '../_base_/seg/models/upernet_r50-cbam.py',
    '../_base_/seg/datasets/ade20k.py',
    '../_base_/seg/default_runtime.py',
    '../_base_/seg/schedules/schedule_80k.py',
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
