"""Where attention looks: capture every attention module's gates, draw them with Grad-CAM.

:func:`capture_attention` runs one forward pass with hooks on the gate submodules of
every attention module (ours and timm's) and returns one :class:`AttentionMap` each:

* channel gates, ``(N, C, 1, 1)`` (or ``(N, 1, C)`` for ECA): ``values`` has shape
  ``(C,)``, drawn as a bar chart;
* spatial gates, ``(N, 1, H, W)`` at the module's input resolution: ``(H, W)``, drawn
  as a heat map over the image;
* gates per position *and* channel (``convgate``, ``bam``, ``simam``): the mean over
  channels, ``(H, W)``, drawn as a heat map;
* coordinate attention's two strips ``(N, C, H, 1)`` and ``(N, C, 1, W)``: the
  channel mean of their product, ``(H, W)``;
* softmax kinds: GC's attention-pooling weights ``softmax(conv_attn(x))`` over
  positions, ``(H, W)``; for ``selfattn``, ``dualattn`` and ``nonlocal``, the attention
  each position *receives*, ``softmax(q^T k)`` averaged over all queries, at the keys'
  resolution. DANet's channel attention and triplet attention's two rotated branches
  are not image-aligned and are not drawn (``kind='other'``).

Only the first image of the batch is kept. :func:`grad_cam` computes Grad-CAM with the
``grad-cam`` package (1.4.8) and :func:`plot_attention` draws one figure, a panel per
stage.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch
import torch.nn as nn

from .flops import is_attention_module

__all__ = [
    'AttentionMap', 'capture_attention', 'stage_of', 'load_image', 'grad_cam', 'plot_attention',
    'default_cam_layer',
]


@dataclass
class AttentionMap:
    """One attention module's map for the first image of a batch.

    Attributes:
        module: Qualified name of the attention module (``'layer1.0.se'``).
        stage: Name of the stage it sits in (``'layer1'``).
        kind: ``'channel'`` (``values``: ``(C,)``), ``'spatial'`` (``(H, W)``) or
            ``'other'`` (captured but not image-aligned; not drawn).
        source: What it was taken from (``'gate'``, ``'spatial.gate'``, ``'softmax(conv_attn)'``...).
        values: The map, on the CPU, float32.
        module_type: Class name of the attention module.
    """
    module: str
    stage: str
    kind: str
    source: str
    values: torch.Tensor = field(repr=False)
    module_type: str = ''


def stage_of(model: nn.Module, name: str) -> str:
    """The stage of module ``name``: the deepest timm ``feature_info`` module containing it,
    else the container of its block (the part before the last numeric component)."""
    stages = [f['module'] for f in getattr(model, 'feature_info', []) or [] if isinstance(f, dict)]
    best = ''
    for s in stages:
        if (name == s or name.startswith(s + '.')) and len(s) > len(best):
            best = s
    if best:
        return best
    parts = name.split('.')
    numeric = [i for i, p in enumerate(parts) if p.isdigit()]
    return '.'.join(parts[:numeric[-1]]) if numeric and numeric[-1] > 0 else (parts[0] if len(parts) > 1 else name)


def _gate_names(module: nn.Module) -> list[str]:
    """Leaf submodules that produce a gate: named ``gate``, ``*_gate`` or ``gate_*``."""
    names = []
    for name, sub in module.named_modules():
        last = name.rsplit('.', 1)[-1]
        if name and not list(sub.children()) and re.fullmatch(r'(\w+_)?gate(_\w+)?', last):
            names.append(name)
    return names


def _first(t) -> torch.Tensor:
    t = t[0] if isinstance(t, (tuple, list)) else t
    return t.detach()[0].float().cpu()


def _received_attention(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``softmax(q^T k)`` over keys, averaged over queries: ``(S,)`` for q ``(E, L)``, k ``(E, S)``."""
    scores = q.flatten(1).t() @ k.flatten(1)
    return torch.softmax(scores, dim=-1).mean(0)


def capture_attention(model: nn.Module, x: torch.Tensor) -> list[AttentionMap]:
    """Run ``model(x)`` (no grad) and return the maps of every outer-most attention module.

    Args:
        model: Any model; attention modules are found with
            :func:`~convattn_plugin.analysis.flops.is_attention_module`.
        x: Input batch ``(N, 3, H, W)``; only the first image's maps are kept.

    Returns:
        One or more :class:`AttentionMap` per attention module, in forward order.
    """
    handles = []
    records: dict[str, dict] = {}
    order: list[str] = []
    outer: list[str] = []
    for name, m in model.named_modules():
        if not name or not is_attention_module(m) or any(name.startswith(o + '.') for o in outer):
            continue
        outer.append(name)
        rec = records.setdefault(name, dict(module=m, input_hw=None, gates={}, feats={}))

        def pre(mod, args, _name=name, _rec=rec):
            _rec['input_hw'] = tuple(args[0].shape[-2:])
            if _name not in order:
                order.append(_name)
        handles.append(m.register_forward_pre_hook(pre))
        for gname in _gate_names(m):
            def hook(mod, args, out, _rec=rec, _g=gname):
                _rec['gates'].setdefault(_g, []).append(_first(out))
            handles.append(m.get_submodule(gname).register_forward_hook(hook))
        for fname in ('conv_attn', 'query', 'key', 'theta', 'phi'):
            if isinstance(getattr(m, fname, None), nn.Module):
                def fhook(mod, args, out, _rec=rec, _f=fname):
                    _rec['feats'][_f] = _first(out)
                handles.append(getattr(m, fname).register_forward_hook(fhook))
        if isinstance(getattr(m, 'pool', None), nn.Module) and hasattr(m, 'phi'):
            # Non-local with sub-sampling pools phi before the product: keep the pooled keys.
            def phook(mod, args, out, _rec=rec):
                if args[0].shape[1] == _rec['module'].phi.out_channels and 'phi_pooled' not in _rec['feats']:
                    _rec['feats']['phi_pooled'] = _first(out)
            handles.append(m.pool.register_forward_hook(phook))
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(x)
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()

    maps: list[AttentionMap] = []
    for name in order:
        rec = records[name]
        h, w = rec['input_hw']
        typ = type(rec['module']).__name__
        stage = stage_of(model, name)

        def add(kind, source, values):
            maps.append(AttentionMap(name, stage, kind, source, values.float(), typ))

        strips = []
        for gname, outs in rec['gates'].items():
            for v in outs:
                if v.numel() == v.shape[0] or (v.dim() >= 2 and v.numel() == v.shape[-1] and v.shape[0] == 1):
                    add('channel', gname, v.flatten())                              # (C, 1, 1) or (1, C)
                elif v.dim() == 3 and v.shape[0] == 1 and tuple(v.shape[1:]) == (h, w):
                    add('spatial', gname, v[0])                                      # (1, H, W)
                elif v.dim() == 3 and tuple(v.shape[1:]) == (h, w):
                    add('spatial', f'mean_c({gname})', v.mean(0))                    # (C, H, W)
                elif v.dim() == 3 and v.shape[0] > 1 and (v.shape[2] == 1 or v.shape[1] == 1):
                    strips.append(v)                                                 # (C, H, 1) / (C, 1, W)
                else:
                    add('other', gname, v)
        if len(strips) == 2:
            add('spatial', 'mean_c(gate_h * gate_w)', (strips[0] * strips[1]).mean(0))
        else:
            for v in strips:
                add('other', 'strip', v)
        f = rec['feats']
        if 'conv_attn' in f and f['conv_attn'].shape[0] == 1:
            add('spatial', 'softmax(conv_attn)', torch.softmax(f['conv_attn'].flatten(), 0).view(h, w))
        q = f.get('query', f.get('theta'))
        k = f.get('key', f.get('phi_pooled', f.get('phi')))
        if q is not None and k is not None:
            add('spatial', 'mean_q softmax(q^T k)', _received_attention(q, k).view(k.shape[-2:]))
    return maps


# ----------------------------------------------------------------------------- image

def load_image(image: Optional[str] = None, size: int = 224):
    """An RGB image as a float array ``(size, size, 3)`` in [0, 1], centre-cropped.

    Args:
        image: A file path, or ``None`` / ``'china'`` / ``'flower'`` for a photo that ships
            with scikit-learn (``sklearn.datasets.load_sample_images``).
        size: Output height and width.
    """
    import numpy as np
    from PIL import Image

    if image is None or image in ('china', 'flower', 'china.jpg', 'flower.jpg'):
        from sklearn.datasets import load_sample_image
        name = (image or 'china').replace('.jpg', '') + '.jpg'
        arr = load_sample_image(name)
    else:
        arr = np.asarray(Image.open(image).convert('RGB'))
    h, w = arr.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = Image.fromarray(arr[top:top + s, left:left + s]).resize((size, size), Image.BICUBIC)
    return np.asarray(img).astype('float32') / 255.0


def to_input(img, mean: Sequence[float] = (0.485, 0.456, 0.406),
             std: Sequence[float] = (0.229, 0.224, 0.225)) -> torch.Tensor:
    """``(H, W, 3)`` array in [0, 1] to a normalised ``(1, 3, H, W)`` tensor."""
    t = torch.as_tensor(img).permute(2, 0, 1).float()
    t = (t - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    return t.unsqueeze(0)


# ----------------------------------------------------------------------------- Grad-CAM

def default_cam_layer(model: nn.Module) -> nn.Module:
    """The last stage (timm ``feature_info``), else the last module with a 4-D output."""
    info = getattr(model, 'feature_info', None)
    if info:
        last = info[-1]['module'] if isinstance(info[-1], dict) else None
        if last:
            return model.get_submodule(last)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError('no Conv2d in the model: pass target_layer')
    return convs[-1]


def grad_cam(model: nn.Module, x: torch.Tensor, target_layer: Optional[nn.Module] = None,
             target_class: Optional[int] = None):
    """Grad-CAM heat map ``(H, W)`` in [0, 1] of ``x[0]`` for its top (or given) class.

    Uses ``pytorch_grad_cam.GradCAM`` (package ``grad-cam``, 1.4.8: 1.5.x changed the
    constructor). Returns ``(heat_map, class_index)``.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = target_layer if target_layer is not None else default_cam_layer(model)
    was_training = model.training
    model.eval()
    if target_class is None:
        with torch.no_grad():
            target_class = int(model(x[:1]).argmax(1)[0])
    cam = GradCAM(model=model, target_layers=[layer])
    try:
        heat = cam(input_tensor=x[:1], targets=[ClassifierOutputTarget(target_class)])[0]
    finally:
        cam.activations_and_grads.release()
    model.train(was_training)
    return heat, target_class


# ----------------------------------------------------------------------------- figure

def _upsample(values: torch.Tensor, size: int):
    import torch.nn.functional as F
    return F.interpolate(values[None, None], size=(size, size), mode='bilinear', align_corners=False)[0, 0].numpy()


def plot_attention(maps: Sequence[AttentionMap], image, path: str, cam=None, title: str = '',
                   cam_label: str = 'Grad-CAM', dpi: int = 90) -> str:
    """One PNG: the image and Grad-CAM on top, then a panel per stage.

    A stage's panel has one heat map over the image per spatial map (left to right in
    forward order) and one bar chart with every channel gate of the stage (one colour
    per block). Returns ``path``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    size = image.shape[0]
    stages = list(dict.fromkeys(m.stage for m in maps if m.kind != 'other'))
    spatial = {s: [m for m in maps if m.stage == s and m.kind == 'spatial'] for s in stages}
    channel = {s: [m for m in maps if m.stage == s and m.kind == 'channel'] for s in stages}
    ncols = max([len(v) for v in spatial.values()] + [1]) + (1 if any(channel.values()) else 0)
    ncols = max(ncols, 2)
    nrows = 1 + len(stages)
    fig = plt.figure(figsize=(2.1 * ncols + 1.5, 2.3 * nrows + 0.6), layout='constrained')
    subfigs = fig.subfigures(nrows, 1, squeeze=False)[:, 0]

    top = subfigs[0].subplots(1, ncols, squeeze=False)[0]
    top[0].imshow(image)
    top[0].set_title('input', fontsize=8)
    if cam is not None:
        top[1].imshow(image)
        top[1].imshow(cam, cmap='jet', alpha=0.5, vmin=0, vmax=1)
        top[1].set_title(cam_label, fontsize=8)
    for ax in top:
        ax.axis('off')
    skipped = sorted({f'{m.module_type}.{m.source}' for m in maps if m.kind == 'other'})
    head = title + (f'\nnot image-aligned, not drawn: {", ".join(skipped)}' if skipped else '')
    subfigs[0].suptitle(head, fontsize=8)

    for sf, stage in zip(subfigs[1:], stages):
        sp, ch = spatial[stage], channel[stage]
        # Heat maps one column each; the bar chart takes the rest of the row.
        widths = [1.0] * len(sp) + ([max(ncols - len(sp), 1)] if ch else [])
        axes = sf.subplots(1, len(widths), squeeze=False, width_ratios=widths)[0]
        for ax, m in zip(axes, sp):
            v = m.values
            ax.imshow(image)
            im = ax.imshow(_upsample(v, size), cmap='jet', alpha=0.55)
            hh, ww = v.shape
            ax.set_title(f'{m.module.split(".", 1)[-1] if "." in m.module else m.module}\n{m.source} {hh}x{ww}',
                         fontsize=6)
            ax.axis('off')
            sf.colorbar(im, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=5)
        if ch:
            ax = axes[-1]
            cmap = plt.get_cmap('viridis')
            n = len(ch)
            for i, m in enumerate(ch):
                ax.bar(range(m.values.numel()), m.values.numpy(), width=1.0, alpha=0.45,
                       color=cmap(i / max(n - 1, 1)), label=m.module.rsplit('.', 1)[0])
            ax.set_title(f'channel gates ({n} modules, C={ch[0].values.numel()})', fontsize=7)
            ax.set_xlabel('channel', fontsize=6)
            ax.set_xlim(-0.5, ch[0].values.numel() - 0.5)
            ax.tick_params(labelsize=5)
            if n <= 6:
                ax.legend(fontsize=5, loc='upper right')
        n_mod = len({m.module for m in maps if m.stage == stage})
        sf.suptitle(f'{stage}: {n_mod} attention modules', fontsize=8, x=0.02, ha='left')
        sf.set_facecolor('0.96')
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
