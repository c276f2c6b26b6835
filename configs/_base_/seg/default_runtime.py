# The segmentation family's only custom_imports (mmengine rejects duplicates among bases): it
# registers ConvAttnResNet / ConvAttnBackbone, every attention kind as a ConvAttn* layer (an mmcv
# plugin too) and the weights_only checkpoint allow-list, into mmengine's root registries, which
# the mmseg scope searches. Otherwise mmseg 1.2's own default_runtime (whose hooks, as mmseg's,
# are set by the schedules).
custom_imports = dict(imports=['convattn_plugin.mm'], allow_failed_imports=False)

default_scope = 'mmseg'

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False

tta_model = dict(type='SegTTAModel')
