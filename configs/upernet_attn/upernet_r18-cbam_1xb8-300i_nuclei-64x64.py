# The measured tiny run with CBAM in every block of the ResNet-18 (BasicBlock: the plugin route
# cannot put attention there); everything else is the plain config's.
_base_ = './upernet_r18_1xb8-300i_nuclei-64x64.py'
model = dict(backbone=dict(attention='cbam'))
