"""The attention-map figure (:func:`plot_attention`): the image and Grad-CAM on top, then one row per stage.

A stage's row has one heat map over the image per spatial map (left to right in forward
order, titled by kind, block and role, e.g. ``cbam layer1.0 spatial``) and one bar chart
with every channel gate of the stage (one colour and one legend entry per module).

:func:`draw_attention_maps` makes one figure as ``tools/vis_attention.py`` asks: load, capture,
Grad-CAM, draw.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..atomic_files import atomic_write
from .attention_maps import AttentionMap, capture_attention
from .map_weights import model_for_maps

__all__ = ['load_image', 'to_input', 'plot_attention', 'missing_extra', 'draw_attention_maps']


def missing_extra(error: ImportError, what: str) -> ImportError:
    """An ImportError that names the extra to install, for a package of the ``tools`` extra."""
    module = (error.name or '').split('.')[0]
    package = {'sklearn': 'scikit-learn', 'pytorch_grad_cam': 'grad-cam'}.get(module, module)
    return ImportError(f'{what} needs the package {package!r}, which is not installed: '
                       f'pip install "convattn_plugin[tools]" (matplotlib, scikit-learn, grad-cam)')


def load_image(image: Optional[str] = None, size: int = 224):
    """An RGB image as a float array ``(size, size, 3)`` in [0, 1], centre-cropped.

    Args:
        image: A file path, or ``None`` / ``'china'`` / ``'flower'`` for a photo that ships
            with scikit-learn (``sklearn.datasets.load_sample_images``).
        size: Output height and width.
    """
    import numpy as np
    from PIL import Image

    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f'image size must be a positive int, got {size!r}')
    if image is None or image in ('china', 'flower', 'china.jpg', 'flower.jpg'):
        try:
            from sklearn.datasets import load_sample_image
        except ImportError as e:
            raise missing_extra(e, f'the sample image {image or "china"!r} (or give --image FILE)') from e
        arr = load_sample_image((image or 'china').replace('.jpg', '') + '.jpg')
    else:
        arr = np.asarray(Image.open(image).convert('RGB'))
    h, w = arr.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    img = Image.fromarray(arr[top:top + s, left:left + s]).resize((size, size), Image.BICUBIC)
    return np.asarray(img).astype('float32') / 255.0


def to_input(img, mean: Sequence[float] = (0.485, 0.456, 0.406),
             std: Sequence[float] = (0.229, 0.224, 0.225)) -> torch.Tensor:
    """``(H, W, 3)`` array in [0, 1] to a normalised ``(1, 3, H, W)`` tensor (grey if ``mean`` has one value)."""
    t = torch.as_tensor(img).permute(2, 0, 1).float()
    if len(mean) == 1:
        t = t.mean(0, keepdim=True)
    c = t.shape[0]
    t = (t - torch.tensor(mean).view(c, 1, 1)) / torch.tensor(std).view(c, 1, 1)
    return t.unsqueeze(0)


def _upsample(values: torch.Tensor, size: int):
    import torch.nn.functional as F
    return F.interpolate(values[None, None], size=(size, size), mode='bilinear', align_corners=False)[0, 0].numpy()


def plot_attention(maps: Sequence[AttentionMap], image, path: str, cam=None, title: str = '',
                   cam_label: str = 'Grad-CAM', dpi: int = 90):
    """Draw the figure of the module docstring, save it as a PNG at ``path`` and return it.

    The returned ``matplotlib.figure.Figure`` is closed; its axes, titles and legends can
    still be read (the tests check the drawn content through it).
    """
    try:
        import matplotlib
    except ImportError as e:
        raise missing_extra(e, 'the attention-map figure') from e
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    size = image.shape[0]
    stages = list(dict.fromkeys(m.stage for m in maps if m.kind != 'other'))
    spatial = {s: [m for m in maps if m.stage == s and m.kind == 'spatial'] for s in stages}
    channel = {s: [m for m in maps if m.stage == s and m.kind == 'channel'] for s in stages}
    ncols = max(max([len(v) for v in spatial.values()] + [1]) + (1 if any(channel.values()) else 0), 2)
    fig = plt.figure(figsize=(2.1 * ncols + 1.5, 2.3 * (1 + len(stages)) + 0.6), layout='constrained')
    subfigs = fig.subfigures(1 + len(stages), 1, squeeze=False)[:, 0]

    top = subfigs[0].subplots(1, ncols, squeeze=False)[0]
    top[0].imshow(image, cmap='gray' if image.ndim == 2 else None)
    top[0].set_title('input', fontsize=8)
    if cam is not None:
        top[1].imshow(image)
        top[1].imshow(cam, cmap='jet', alpha=0.5, vmin=0, vmax=1)
        top[1].set_title(cam_label, fontsize=8)
    for ax in top:
        ax.axis('off')
    skipped = sorted({f'{m.attn_kind} {m.source}' for m in maps if m.kind == 'other'})
    subfigs[0].suptitle(title + (f'\nnot image-aligned, not drawn: {", ".join(skipped)}' if skipped else ''),
                        fontsize=8)

    for sf, stage in zip(subfigs[1:], stages):
        sp, ch = spatial[stage], channel[stage]
        widths = [1.0] * len(sp) + ([max(ncols - len(sp), 1)] if ch else [])
        axes = sf.subplots(1, len(widths), squeeze=False, width_ratios=widths)[0]
        for ax, m in zip(axes, sp):
            ax.imshow(image)
            im = ax.imshow(_upsample(m.values, size), cmap='jet', alpha=0.55)
            ax.set_title(f'{m.label}\n{m.values.shape[0]}x{m.values.shape[1]}', fontsize=6)
            ax.axis('off')
            sf.colorbar(im, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=5)
        if ch:
            _channel_bars(axes[-1], ch, plt.get_cmap('viridis'))
        n_mod = len({m.module for m in maps if m.stage == stage})
        sf.suptitle(f'{stage}: {n_mod} attention module{"s" if n_mod != 1 else ""}', fontsize=8, x=0.02, ha='left')
        sf.set_facecolor('0.96')
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format='png'))
    plt.close(fig)
    return fig


def _channel_bars(ax, maps: Sequence[AttentionMap], cmap) -> None:
    """One bar series per channel gate, overlaid; one legend entry per module."""
    n = len(maps)
    width = maps[0].values.numel()
    for i, m in enumerate(maps):
        ax.bar(range(m.values.numel()), m.values.numpy(), width=1.0, alpha=0.45,
               color=cmap(i / max(n - 1, 1)), label=m.label)
    modules = len({m.module for m in maps})
    ax.set_title(f'channel gates ({modules} module{"s" if modules != 1 else ""}, C={width})', fontsize=7)
    ax.set_xlabel('channel', fontsize=6)
    ax.set_xlim(-0.5, width - 0.5)
    ax.tick_params(labelsize=5)
    if n <= 6:
        ax.legend(fontsize=5, loc='upper right')


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
