# The measured tiny run with CBAM in every block of the ResNet-18 (BasicBlock: the plugin route
# cannot put attention there); everything else is the plain config's.
_base_ = './faster-rcnn_r18_fpn_1xb4-300i_trees.py'
model = dict(backbone=dict(attention='cbam'))
