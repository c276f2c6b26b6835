"""What the model families share: their pretrained cfgs and timm registration.

timm finds a model's cfg as ``default_cfgs[name]`` in the module of its entry point and
groups models by that module's last name part, so each family module keeps its own
``default_cfgs`` and entry points; :func:`register_kind` fills both for one attention kind.
"""
from __future__ import annotations

import sys
import warnings
from typing import Any, Callable, Iterable

from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import generate_default_cfgs, is_model, model_entrypoint, register_model

from ..layers import get_attn_info

__all__ = ['attn_cfg', 'register_kind']


def attn_cfg(kind: str, backbone_paper: str, **kwargs: Any) -> dict[str, Any]:
    """Default cfg of an untrained attention model: ImageNet preprocessing, no weights.

    Args:
        kind: Attention kind (its arXiv id goes into ``paper_ids``).
        backbone_paper: arXiv id of the backbone's paper.
        **kwargs: Family-specific entries (``first_conv``, ``classifier``, ...).
    """
    arxiv = get_attn_info(kind).arxiv
    return {
        'url': '',
        'num_classes': 1000, 'input_size': (3, 224, 224), 'pool_size': (7, 7),
        'crop_pct': 0.875, 'interpolation': 'bilinear',
        'mean': IMAGENET_DEFAULT_MEAN, 'std': IMAGENET_DEFAULT_STD,
        'license': 'apache-2.0',
        'paper_ids': tuple(f'arXiv:{p}' for p in (backbone_paper, arxiv) if p),
        'notes': ('untrained; start from plain backbone weights with '
                  'convattn_plugin.models.load_backbone_weights(model, checkpoint)',),
        **kwargs,
    }


def register_kind(
        module_name: str,
        archs: Iterable[str],
        kind: str,
        make_entrypoint: Callable[[str, str], Callable[..., Any]],
        make_cfg: Callable[[str], dict[str, Any]],
) -> list[str]:
    """Register ``{arch}_{kind}`` for every arch into timm, as entry points of ``module_name``.

    A name timm already has from elsewhere is skipped with a warning (never overwritten);
    a name this module registered before is skipped silently.

    Args:
        module_name: ``__name__`` of the family module; it must define ``default_cfgs``.
        archs: Backbone names, e.g. ``('resnet18', 'resnet50')``.
        kind: A registered attention kind.
        make_entrypoint: ``(arch, kind) -> fn(pretrained=False, **kwargs)``.
        make_cfg: ``kind -> default cfg dict``.

    Returns:
        The names registered by this call.
    """
    module = sys.modules[module_name]
    names = {}
    for arch in archs:
        name = f'{arch}_{kind}'
        if is_model(name):
            owner = model_entrypoint(name).__module__
            if owner != module_name:
                warnings.warn(f'{name} is already a timm model (from {owner}); not registering it again')
            continue
        names[name] = arch
    # timm's register_model reads the cfg from the module's default_cfgs: fill it first.
    module.default_cfgs.update(generate_default_cfgs({f'{n}.untrained': make_cfg(kind) for n in names}))
    for name, arch in names.items():
        fn = make_entrypoint(arch, kind)
        fn.__name__ = fn.__qualname__ = name
        fn.__module__ = module_name
        setattr(module, name, register_model(fn))
    return list(names)
