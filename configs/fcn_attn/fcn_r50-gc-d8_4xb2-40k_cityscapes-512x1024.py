# FCN R50-D8, 40k iterations on Cityscapes at 512 x 1024 (mmseg 1.2's
# fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py) on ConvAttnResNet-50 (output stride 8) with GCNet's
# global context blocks (r4) in layer2..layer4, initialised from torchvision's plain ResNet-50.
# For 4 GPUs x 2 images.
_base_ = [
    '../_base_/seg/models/fcn_r50-gc-d8.py',
    '../_base_/seg/datasets/cityscapes.py',
    '../_base_/seg/default_runtime.py',
    '../_base_/seg/schedules/schedule_40k.py',
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
