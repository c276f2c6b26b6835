"""Grad-CAM of a classifier, at a layer that still has spatial extent at the input's size.

Uses ``pytorch_grad_cam.GradCAM`` from the ``grad-cam`` package (1.4.8: 1.5.x changed the
constructor), part of the ``tools`` extra.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn

__all__ = ['MIN_CAM_EXTENT', 'cam_layer', 'grad_cam']

#: A Grad-CAM layer needs at least this many positions per side to show where the
#: class evidence is; a 1x1 map (ResNet's last stage at 32 px) gives a constant heat map.
MIN_CAM_EXTENT = 4


def cam_layer(model: nn.Module, x: torch.Tensor) -> tuple[str, nn.Module]:
    """The deepest stage (timm ``feature_info``, else 4-D module output) of at least
    :data:`MIN_CAM_EXTENT` x :data:`MIN_CAM_EXTENT` positions for input ``x``.

    Returns ``(name, module)``; falls back to the largest map if none is big enough.
    """
    info = [f['module'] for f in getattr(model, 'feature_info', None) or [] if isinstance(f, dict)]
    candidates = info or [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not candidates:
        raise ValueError(f'{type(model).__name__} has no Conv2d and no feature_info: no layer for Grad-CAM')
    sizes: dict[str, int] = {}

    def record(name: str):
        def hook(mod, args, out) -> None:
            sizes.setdefault(name, min(out.shape[-2:]) if isinstance(out, torch.Tensor) and out.dim() == 4 else 0)
        return hook
    handles = [model.get_submodule(n).register_forward_hook(record(n)) for n in candidates]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x[:1])
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    big = [n for n in candidates if sizes.get(n, 0) >= MIN_CAM_EXTENT]
    name = big[-1] if big else max(candidates, key=lambda n: sizes.get(n, 0))
    return name, model.get_submodule(name)


def grad_cam(model: nn.Module, x: torch.Tensor, target_layer: Optional[nn.Module] = None,
             target_class: Optional[int] = None):
    """Grad-CAM heat map ``(H, W)`` in [0, 1] of ``x[0]`` for its top (or given) class.

    Args:
        model: A classifier returning logits.
        x: Input batch; only the first image is used.
        target_layer: Default: :func:`cam_layer`.
        target_class: Default: the top prediction.

    Returns:
        ``(heat_map, class_index, layer_name)``.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if target_layer is None:
        layer_name, target_layer = cam_layer(model, x)
    else:
        layer_name = next((n for n, m in model.named_modules() if m is target_layer), type(target_layer).__name__)
    was_training = model.training
    model.eval()
    try:
        if target_class is None:
            with torch.no_grad():
                target_class = int(model(x[:1]).argmax(1)[0])
        cam = GradCAM(model=model, target_layers=[target_layer])
        try:
            heat = cam(input_tensor=x[:1], targets=[ClassifierOutputTarget(target_class)])[0]
        finally:
            cam.activations_and_grads.release()
    finally:
        model.train(was_training)
    return heat, target_class, layer_name
