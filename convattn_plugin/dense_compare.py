"""A plain and an attention backbone, each training a small detector and a small segmenter.

The two routes that need no OpenMMLab, on the real images of :mod:`.packaged_data`:

* detection: torchvision's ``FasterRCNN`` on :func:`~convattn_plugin.detection.resnet_fpn_backbone`,
  trained on tiles of one deepforest image and tested on tiles of another; box mAP by
  torchmetrics' ``MeanAveragePrecision`` (COCO protocol, on the faster-coco-eval backend:
  with pycocotools installed, mmpretrain imports its BLIP models, which fail on transformers 5);
* segmentation: segmentation_models_pytorch's ``Unet`` with the backbone as its ``tu-`` encoder,
  trained on random crops of the left part of stardist's nuclei image and tested on fixed
  tiles of the right part; mIoU (background, nucleus) by ``smp.metrics``.

Both start from random weights (no ImageNet weights can be downloaded here), with the same
seed, data order and schedule for every backbone, so a row differs from another only by the
backbone. ``tools/dense_compare.py`` is the command line.
"""
from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Iterable, Optional, Union

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator

from .detection import resnet_fpn_backbone
from .packaged_data import NucleiTiles, TreeTiles

try:
    import segmentation_models_pytorch as smp
    from torchmetrics.detection import MeanAveragePrecision
except ImportError as e:  # an optional extra
    raise ImportError(f'{e.name} is missing: dense_compare needs the dense extra, '
                      'pip install "convattn_plugin[dense]"') from e

__all__ = [
    'DETECTION_IMAGES', 'build_detector', 'build_segmenter', 'evaluate_detector', 'evaluate_segmenter',
    'run_detection', 'run_segmentation', 'train',
]

# Train on the larger YELL image (574 trees), test on the other (279 trees): a fixed split by image.
DETECTION_IMAGES = {'train': ['2019_YELL_2_528000_4978000_image_crop2'],
                    'test': ['2019_YELL_2_541000_4977000_image_crop']}
SEGMENTATION_COLUMNS = {'train': (0.0, 0.75), 'test': (0.75, 1.0)}


def build_detector(backbone_name: str, tile: int, fpn_channels: int = 64) -> FasterRCNN:
    """A small Faster R-CNN for one class on ``tile`` px inputs.

    Anchors of 16..256 px (trees of 10-40 px at half scale), no resizing, and proposal and
    sampling counts cut to what a tile with at most a few dozen trees needs (torchvision's
    defaults are sized for 800 px COCO images).
    """
    backbone = resnet_fpn_backbone(backbone_name, out_channels=fpn_channels)
    anchors = AnchorGenerator(sizes=((16,), (32,), (64,), (128,), (256,)), aspect_ratios=((0.5, 1.0, 2.0),) * 5)
    return FasterRCNN(backbone, num_classes=2, min_size=tile, max_size=tile, rpn_anchor_generator=anchors,
                      rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
                      rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=150,
                      box_batch_size_per_image=128, box_detections_per_img=100)


def build_segmenter(encoder_name: str) -> nn.Module:
    """A small smp ``Unet`` (encoder depth 4) with two classes on the ``tu-{encoder_name}`` encoder."""
    return smp.Unet(f'tu-{encoder_name}', encoder_weights=None, encoder_depth=4,
                    decoder_channels=(64, 32, 16, 8), classes=2)


def _cycle(loader: DataLoader) -> Iterable:
    while True:
        yield from loader


def train(model: nn.Module, loss_of_batch: Callable[[nn.Module, Any], torch.Tensor], loader: DataLoader,
          steps: int, lr: float = 1e-3, warmup: int = 20, log: Optional[Callable[[str], None]] = None) -> list[float]:
    """AdamW over ``steps`` batches, linear warm-up then cosine decay; returns each step's loss.

    Raises:
        FloatingPointError: A loss that is not finite (the step and its value in the message).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (
        1 + math.cos(math.pi * min(s, steps) / steps)))
    model.train()
    losses = []
    for step, batch in zip(range(steps), _cycle(loader)):
        loss = loss_of_batch(model, batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f'step {step}: loss {loss.item()}')
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if log is not None and (step + 1) % 50 == 0:
            log(f'step {step + 1}/{steps}: loss {sum(losses[-50:]) / len(losses[-50:]):.4f}')
    return losses


def _detection_loss(model: nn.Module, batch) -> torch.Tensor:
    images, targets = batch
    return sum(model(list(images), list(targets)).values())


def _collate(batch):
    return tuple(zip(*batch))


@torch.no_grad()
def evaluate_detector(model: nn.Module, dataset: Dataset) -> dict[str, float]:
    """Box mAP on ``dataset``: COCO's ``map`` (IoU 0.5:0.95) and ``map_50``."""
    model.eval()
    # faster-coco-eval, not pycocotools: pycocotools makes mmpretrain 1.2 import its multimodal
    # models, which fail on transformers 5 (see pyproject's dense extra).
    metric = MeanAveragePrecision(iou_type='bbox', backend='faster_coco_eval')
    for images, targets in DataLoader(dataset, batch_size=4, collate_fn=_collate):
        metric.update(model(list(images)), list(targets))
    result = metric.compute()
    return {'map': float(result['map']), 'map_50': float(result['map_50'])}


@torch.no_grad()
def evaluate_segmenter(model: nn.Module, dataset: Dataset) -> dict[str, float]:
    """mIoU over background and nucleus (pixels of all tiles summed per class), and the nucleus IoU."""
    model.eval()
    stats = []
    for images, masks in DataLoader(dataset, batch_size=8):
        pred = model(images).argmax(1)
        stats.append(smp.metrics.get_stats(pred, masks, mode='multiclass', num_classes=2))
    # pixels of all tiles summed per class, then IoU per class
    tp, fp, fn, tn = (torch.cat([s[i] for s in stats]).sum(0, keepdim=True) for i in range(4))
    per_class = smp.metrics.iou_score(tp, fp, fn, tn, reduction='none')[0]
    return {'miou': float(per_class.mean()), 'iou_nucleus': float(per_class[1])}


def _parameters(model: nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def run_detection(root: Union[str, os.PathLike], backbone_name: str, steps: int, seed: int = 0,
                  batch_size: int = 4, tile: int = 128, scale: float = 0.5,
                  images: Optional[dict[str, list[str]]] = None, columns: Optional[dict] = None,
                  warmup: int = 20, log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Train a detector on ``backbone_name`` for ``steps`` batches and test it.

    Args:
        root: Folder of the downloaded wheels (:func:`~convattn_plugin.packaged_data.read_packaged`).
        backbone_name: A timm ResNet name (``resnet18`` plain, ``resnet18_cbam``).
        steps: Training batches.
        seed: Seeds the model's initialisation and the data order.
        batch_size: Tiles per batch.
        tile: Tile side, pixels (after ``scale``).
        scale: Resize factor of the aerial images.
        images: ``{'train': [...], 'test': [...]}`` image names; default :data:`DETECTION_IMAGES`.
        columns: ``{'train': (a, b), 'test': (c, d)}`` column ranges; default the whole width.
        warmup: Steps of linear learning-rate warm-up.
        log: Called with progress lines.

    Returns:
        A row: backbone, parameters (millions), train seconds, ``map``, ``map_50``, numbers
        of tiles and boxes, the mean loss of the first and last 10% of the steps.
    """
    images = images or DETECTION_IMAGES
    columns = columns or {'train': (0.0, 1.0), 'test': (0.0, 1.0)}
    train_set = TreeTiles(root, images['train'], tile=tile, scale=scale, columns=columns['train'], augment=True)
    test_set = TreeTiles(root, images['test'], tile=tile, scale=scale, columns=columns['test'])
    torch.manual_seed(seed)
    model = build_detector(backbone_name, tile)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, collate_fn=_collate,
                        generator=torch.Generator().manual_seed(seed))
    start = time.perf_counter()
    losses = train(model, _detection_loss, loader, steps, warmup=warmup, log=log)
    seconds = time.perf_counter() - start
    tenth = max(1, steps // 10)
    return {'task': 'detection', 'backbone': backbone_name, 'seed': seed, 'steps': steps, 'scale': scale,
            'params_m': round(_parameters(model), 2), 'train_s': round(seconds, 1),
            **evaluate_detector(model, test_set),
            'loss_first': sum(losses[:tenth]) / tenth, 'loss_last': sum(losses[-tenth:]) / tenth,
            'train_tiles': len(train_set), 'train_boxes': train_set.num_boxes,
            'test_tiles': len(test_set), 'test_boxes': test_set.num_boxes}


def _segmentation_loss(dice: nn.Module) -> Callable[[nn.Module, Any], torch.Tensor]:
    def loss(model: nn.Module, batch) -> torch.Tensor:
        images, masks = batch
        logits = model(images)
        return nn.functional.cross_entropy(logits, masks) + dice(logits, masks)
    return loss


def run_segmentation(root: Union[str, os.PathLike], encoder_name: str, steps: int, seed: int = 0,
                     batch_size: int = 8, tile: int = 64, columns: Optional[dict] = None,
                     warmup: int = 20, log: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """Train a segmenter on ``encoder_name`` for ``steps`` batches and test it (see :func:`run_detection`).

    Returns:
        A row: encoder, parameters (millions), train seconds, ``miou``, ``iou_nucleus``, the
        mean loss of the first and last 10% of the steps.
    """
    columns = columns or SEGMENTATION_COLUMNS
    torch.manual_seed(seed)
    train_set = NucleiTiles(root, tile=tile, columns=columns['train'], augment=True,
                            crops_per_epoch=steps * batch_size)
    test_set = NucleiTiles(root, tile=tile, columns=columns['test'])
    model = build_segmenter(encoder_name)
    loader = DataLoader(train_set, batch_size=batch_size)
    start = time.perf_counter()
    losses = train(model, _segmentation_loss(smp.losses.DiceLoss('multiclass')), loader, steps, warmup=warmup,
                   log=log)
    seconds = time.perf_counter() - start
    tenth = max(1, steps // 10)
    return {'task': 'segmentation', 'backbone': encoder_name, 'seed': seed, 'steps': steps,
            'params_m': round(_parameters(model), 2), 'train_s': round(seconds, 1),
            **evaluate_segmenter(model, test_set),
            'loss_first': sum(losses[:tenth]) / tenth, 'loss_last': sum(losses[-tenth:]) / tenth,
            'test_tiles': len(test_set)}
