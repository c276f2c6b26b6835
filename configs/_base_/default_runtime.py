# The only custom_imports of the project's configs (mmengine rejects duplicates): it
# registers the backbones, attention layers, SklearnDigits, EpochSeedHook and the
# checkpoint allow-list (resume / load_from on torch >= 2.6).
custom_imports = dict(imports=['convattn_plugin.mm'], allow_failed_imports=False)

default_scope = 'mmpretrain'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # A checkpoint every epoch (what --resume needs); the last two are kept.
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

# Reseeds the generators every epoch, so a resumed run draws the same augmentations.
custom_hooks = [dict(type='EpochSeedHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # NCCL on GPUs. On a CPU-only machine the project's tools/train.py switches to gloo.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
# No `randomness` here: unseeded as in mmpretrain, unless a schedule sets a seed.
