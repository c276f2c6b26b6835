"""Our backbone inside mmdet's and mmseg's detectors and segmenters, trained and tested by the Runner.

Each COCO / ADE20K / Cityscapes config of ``configs/`` keeps its model (ResNet-50 with attention,
FPN, heads) and gets the tiny real data (tree tiles for mmdet, nuclei for mmseg), a couple of
training iterations and the test loop with mmdet's ``CocoMetric`` / mmseg's ``IoUMetric``.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.mmdet

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs'
TINY_DET = CONFIGS / 'faster_rcnn_attn/faster-rcnn_r18_fpn_1xb4-300i_trees.py'
TINY_SEG = CONFIGS / 'upernet_attn/upernet_r18_1xb8-300i_nuclei-64x64.py'
FULL = {
    'retinanet_attn/retinanet_r50-cbam_fpn_8xb2-1x_coco.py': ('det', 'cbam'),
    'faster_rcnn_attn/faster-rcnn_r50-gc_fpn_8xb2-1x_coco.py': ('det', 'gc'),
    'faster_rcnn_attn/faster-rcnn_r50-cbam-plugin_fpn_8xb2-1x_coco.py': ('det', 'cbam'),
    'upernet_attn/upernet_r50-cbam_4xb4-80k_ade20k-512x512.py': ('seg', 'cbam'),
    'fcn_attn/fcn_r50-gc-d8_4xb2-40k_cityscapes-512x1024.py': ('seg', 'gc'),
    'fcn_attn/fcn_r50-gc-plugin-d8_4xb2-40k_cityscapes-512x1024.py': ('seg', 'gc'),
}
DATA_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'test_evaluator')


def _set_num_classes(model_cfg, n: int) -> None:
    for head in ('bbox_head', 'decode_head', 'auxiliary_head'):
        if model_cfg.get(head):
            model_cfg[head].num_classes = n
    if model_cfg.get('roi_head'):
        model_cfg.roi_head.bbox_head.num_classes = n


def tiny_cfg(config: Path, kind: str, data_root: Path, work_dir: Path, data_options, iters: int = 2):
    """``config``'s model on the tiny data of the family's tiny config, for ``iters`` iterations."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(config))
    tiny = Config.fromfile(str(TINY_DET if kind == 'det' else TINY_SEG))
    for key in DATA_KEYS + ('optim_wrapper', 'param_scheduler', 'log_processor', 'randomness'):
        cfg[key] = tiny[key]
    cfg.merge_from_dict(data_options(kind, data_root))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1, log_metric_by_epoch=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=iters)
    cfg.model.backbone.pop('init_cfg', None)  # no download here
    cfg.model.pop('pretrained', None)
    _set_num_classes(cfg.model, 1 if kind == 'det' else 2)
    if kind == 'seg':
        cfg.model.data_preprocessor.size = (64, 64)
    else:  # after 2 iterations no score passes 0.05, and CocoMetric returns nothing for no detections
        test = cfg.model.test_cfg
        (test.rcnn if 'rcnn' in test else test).score_thr = 0.0
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    return cfg


def _attention_params(model, kind: str) -> dict[str, torch.Tensor]:
    from convattn_plugin.layers import get_attn_info

    cls = get_attn_info(kind).cls
    return {f'{n}.{p}': t.detach().clone() for n, m in model.named_modules() if isinstance(m, cls)
            for p, t in m.named_parameters()}


@pytest.mark.parametrize('config', list(FULL), ids=lambda c: Path(c).stem)
def test_full_config_model_trains_and_tests_through_the_runner(config, kit, trees_root, nuclei_root, tmp_path):
    from mmengine.runner import Runner

    kind, attention = FULL[config]
    cfg = tiny_cfg(CONFIGS / config, kind, trees_root if kind == 'det' else nuclei_root, tmp_path, kit.data_options)
    runner = Runner.from_cfg(cfg)
    before = _attention_params(runner.model, attention)
    assert before, f'{config}: no {attention} layer in the model'
    runner.train()
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss) and loss > 0
    after = _attention_params(runner.model, attention)
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert moved, f'{config}: no attention parameter changed in training'
    metrics = runner.test()
    key = 'coco/bbox_mAP' if kind == 'det' else 'mIoU'
    assert key in metrics and 0 <= metrics[key] <= 100, metrics
    assert (tmp_path / 'iter_2.pth').is_file()


def test_our_backbone_options_inside_a_detector(kit, trees_root, tmp_path):
    """BasicBlock depth, per-stage attention, out_indices, frozen_stages and norm_eval in Faster R-CNN."""
    from mmengine.runner import Runner

    from convattn_plugin.layers import get_attn_info

    cfg = tiny_cfg(TINY_DET, 'det', trees_root, tmp_path, kit.data_options)
    cfg.model.backbone.update(depth=34, attention='eca', attn_stages=[2, 3], out_indices=(1, 2, 3),
                              frozen_stages=1, norm_eval=True)
    cfg.model.neck.update(in_channels=[128, 256, 512], num_outs=5, add_extra_convs='on_output')
    cfg.model.roi_head.bbox_roi_extractor.featmap_strides = [8, 16, 32]  # the FPN now starts at stride 8
    cfg.model.rpn_head.anchor_generator.strides = [8, 16, 32, 64, 128]
    runner = Runner.from_cfg(cfg)
    backbone = runner.model.backbone
    eca = get_attn_info('eca').cls
    stages = {n.split('.')[1] for n, m in backbone.named_modules() if isinstance(m, eca)}
    assert stages == {'layer3', 'layer4'}
    frozen = [backbone.timm_model.conv1, backbone.timm_model.layer1]
    before = [p.detach().clone() for m in frozen for p in m.parameters()]
    runner.train()
    assert all(torch.equal(a, p) for a, p in zip(before, (p for m in frozen for p in m.parameters())))
    assert not any(p.requires_grad for m in frozen for p in m.parameters())
    bns = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    runner.model.train()
    assert bns and not any(m.training for m in bns)  # norm_eval
    assert backbone.out_channels == (128, 256, 512)


def test_pretrained_plain_resnet_loads_into_our_backbone(tmp_path):
    import torchvision

    from convattn_plugin.mm import ConvAttnResNet

    torch.manual_seed(0)
    plain = torchvision.models.resnet50()
    ckpt = tmp_path / 'resnet50_plain.pth'
    torch.save(plain.state_dict(), ckpt)
    ours = ConvAttnResNet(depth=50, attention='cbam', out_indices=(0, 1, 2, 3),
                          init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    ours.init_weights()
    assert torch.equal(ours.timm_model.conv1.weight, plain.conv1.weight)
    assert torch.equal(ours.timm_model.layer4[2].conv3.weight, plain.layer4[2].conv3.weight)
    assert ours.pretrained_report.missing_keys and all('.se.' in k for k in ours.pretrained_report.missing_keys)


def test_the_runner_loads_plain_weights_into_our_backbone_of_a_detector(kit, trees_root, tmp_path):
    """The Faster R-CNN GC config as shipped (init_cfg=Pretrained), its torchvision:// file replaced
    by a local plain ResNet-50 state dict: mmdet's Runner initialises the model before training."""
    import torchvision
    from mmengine.runner import Runner

    torch.manual_seed(0)
    plain = torchvision.models.resnet50().state_dict()
    ckpt = tmp_path / 'resnet50_plain.pth'
    torch.save(plain, ckpt)
    config = CONFIGS / 'faster_rcnn_attn/faster-rcnn_r50-gc_fpn_8xb2-1x_coco.py'
    cfg = tiny_cfg(config, 'det', trees_root, tmp_path, kit.data_options, iters=1)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(ckpt))
    cfg.optim_wrapper.optimizer.lr = 0.0  # the loaded weights stay as loaded through the one step
    runner = Runner.from_cfg(cfg)
    runner.train()
    backbone = runner.model.backbone
    got = backbone.timm_model.state_dict()
    frozen = [k for k in got if k.startswith(('conv1.', 'bn1.', 'layer1.'))]  # frozen_stages=1: exactly as loaded
    assert frozen and all(torch.equal(got[k], plain[k]) for k in frozen)
    assert torch.equal(got['layer4.2.conv3.weight'], plain['layer4.2.conv3.weight'])
    fresh = backbone.pretrained_report.missing_keys
    assert fresh and all('.se.' in k for k in fresh)  # the GC blocks (in timm's se slot) only
