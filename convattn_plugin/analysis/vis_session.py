"""One attention-map figure as ``tools/vis_attention.py`` makes it: load, capture, Grad-CAM, draw."""
from __future__ import annotations

from typing import Optional

import torch

from .attention_maps import capture_attention
from .attention_plot import load_image, missing_extra, plot_attention, to_input
from .map_weights import model_for_maps

__all__ = ['draw_attention_maps']


def draw_attention_maps(model: str = 'resnet50_cbam', image: Optional[str] = None, img_size: Optional[int] = None,
                        checkpoint: Optional[str] = None, config: Optional[str] = None, num_classes: int = 1000,
                        target_class: Optional[int] = None, cam: bool = True, seed: int = 0,
                        out: str = 'outputs/attention_maps.png') -> str:
    """Draw every attention module's maps (and Grad-CAM) of one image into ``out``.

    Arguments are those of ``tools/vis_attention.py``; ``img_size`` defaults to the size the
    weights were trained at (224 for random weights). Returns a one-line summary.
    """
    torch.manual_seed(seed)
    net, data_config, weights = model_for_maps(model, checkpoint, config, num_classes)
    size = img_size or int(data_config.get('input_size', (3, 224, 224))[-1])
    picture = load_image(image, size)
    x = to_input(picture, data_config.get('mean', (0.485, 0.456, 0.406)), data_config.get('std', (0.229, 0.224, 0.225)))
    maps = capture_attention(net, x)
    heat, label = None, 'Grad-CAM'
    if cam:
        try:
            from .grad_cam import grad_cam
            heat, cls, layer = grad_cam(net, x, target_class=target_class)
        except ImportError as e:
            raise missing_extra(e, 'Grad-CAM (or pass --no-cam)') from e
        label = f'Grad-CAM ({layer}, class {cls})'
    arch = (getattr(net, 'pretrained_cfg', None) or {}).get('architecture') or type(net).__name__
    title = f'{model if checkpoint is None else arch}, {weights}, image {image or "china"}, {size} px'
    plot_attention(maps, picture, out, cam=heat, title=title, cam_label=label)
    n_mod = len({m.module for m in maps})
    if not n_mod:
        return f'no attention module found in {model}; wrote {out} (input and Grad-CAM only)'
    return (f'{n_mod} attention modules, {len(maps)} maps ({sum(m.kind == "spatial" for m in maps)} spatial, '
            f'{sum(m.kind == "channel" for m in maps)} channel); wrote {out}')
