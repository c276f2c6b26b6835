"""A backbone family described once, and its ``{arch}_{kind}`` names registered into timm.

The grammar of every generated model name, here and nowhere else:

* ``{arch}_{kind}``: ``arch`` is a backbone of a family (``resnet18``, ``vgg16_bn``,
  ``mobilenetv2_100``; the keys of :attr:`ModelFamily.archs`), ``kind`` a registered attention
  kind (``convattn_plugin.layers.list_attentions()``). ``resnet18_cbam`` is ResNet-18 with CBAM.
* ``{arch}_{kind}.{tag}``: timm's pretrained tag. ``.untrained`` (the default tag) has no
  weights; a tag of published weights is ``{source}[_{variant}]_{data}``, e.g.
  ``resnet50_eca.bangguwu_in1k`` (the authors' weights, ImageNet-1k) or
  ``resnet18_triplet.landskape_k3_in1k`` (their k = 3 variant).

:func:`register_family_kind` (called once per family and kind when ``import convattn_plugin``
runs) builds the entry points, so no source file spells a name out: ``docs/models.md`` lists
every one (``git grep resnet18_cbam`` finds it there; ``python -m convattn_plugin.models
--markdown`` prints it, and a test keeps the two equal).

A :class:`ModelFamily` says everything that differs between ResNet and VGG: the
architectures, how to build one with attention, its stages, its cfg entries and what the
entry points' docstrings say. :func:`register_family_kind` turns a family and a kind into
timm entry points (three lines over ``build_model_with_cfg``, with a default cfg each).

timm finds a model's cfg as ``default_cfgs[name]`` in the module of its entry point and
groups models by that module's last name part (``list_models(module='attn_resnet')``), so
each family names the module that holds its ``default_cfgs``; the entry points are set
there as attributes.
"""
from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Mapping, Optional

import torch.nn as nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, is_model, model_entrypoint, register_model

from ..layers import get_attn_info

__all__ = ['ModelFamily', 'attn_cfg', 'register_family_kind']


@dataclass(frozen=True)
class ModelFamily:
    """One backbone family with attention.

    Attributes:
        name: Family name, e.g. ``'ResNet'``.
        module: ``__name__`` of the module holding ``default_cfgs`` and the entry points.
        archs: Backbone name -> arguments of the family's model class (timm's own entry points').
        build: ``build(attn_kind=, attn_stages=, attn_kwargs=, variant=, **model_kwargs)``.
        num_stages: Stages ``attn_stages`` indexes.
        placement: Where the attention goes, for docstrings (``'in the residual blocks'``).
        backbone_arxiv: arXiv id of the backbone's paper (in ``paper_ids``).
        arch_arxiv: Backbones of the family with a paper of their own (``resnext50_32x4d``:
            ResNeXt's), over ``backbone_arxiv``.
        cfg: Family entries of the default cfg (``first_conv``, ``classifier``).
        build_kwargs: Extra arguments of ``build_model_with_cfg`` (``feature_cfg``, ...).
        last_stage: What the last stage is called, for docstrings (``'layer4'``).
        extra_doc: Extra sentence for the entry points' docstrings.
        describe_placement: ``kind -> words`` for where the default puts a kind
            (``'after layer1-3'``), for docstrings; ``None``: every stage, or the last
            for quadratic kinds.
    """
    name: str
    module: str
    archs: Mapping[str, Mapping[str, Any]]
    build: Callable[..., nn.Module]
    num_stages: int
    placement: str
    backbone_arxiv: str
    arch_arxiv: Mapping[str, str] = field(default_factory=dict)
    cfg: Mapping[str, Any] = field(default_factory=dict)
    build_kwargs: Mapping[str, Any] = field(default_factory=dict)
    last_stage: str = 'the last'
    extra_doc: str = ''
    describe_placement: Optional[Callable[[str], str]] = None

    def backbone_paper(self, arch: str) -> str:
        """arXiv id of ``arch``'s paper: its own (:attr:`arch_arxiv`), else the family's."""
        return self.arch_arxiv.get(arch, self.backbone_arxiv)

    def create(self, variant: str, arch: str, kind: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
        """Build ``variant`` (``{arch}_{kind}``) through timm's ``build_model_with_cfg``."""
        build_kwargs = dict(self.build_kwargs)
        if 'feature_cfg' in build_kwargs:  # a fresh copy: build_model_with_cfg writes into it
            build_kwargs['feature_cfg'] = dict(build_kwargs['feature_cfg'])
        if 'num_classes' in kwargs:
            check_num_classes(kwargs['num_classes'], variant)
        model_args = dict(self.archs[arch], attn_kind=kind)
        # A tag with published weights fixes the arguments of the authors' architecture.
        from .published_weights import published_model_kwargs
        kwargs = published_model_kwargs(variant, pretrained, kwargs)
        return build_model_with_cfg(
            partial(self.build, variant=variant), variant, pretrained, **build_kwargs, **dict(model_args, **kwargs))


# Wider heads end in the allocator's error instead of a message (1e6 classes x 2048 features
# of ResNet-50 = 8 GB of fp32 weights already).
MAX_NUM_CLASSES = 1_000_000


def check_num_classes(num_classes: object, variant: str) -> int:
    """``num_classes`` if it is an int in ``0..MAX_NUM_CLASSES`` (0: no classifier), else ``ValueError``."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or not 0 <= num_classes <= MAX_NUM_CLASSES:
        raise ValueError(f'{variant}: num_classes must be an int from 0 (no classifier) to {MAX_NUM_CLASSES:,}, '
                         f'got {num_classes!r}')
    return num_classes


def attn_cfg(kind: str, backbone_arxiv: str, **kwargs: Any) -> dict[str, Any]:
    """Default cfg of an untrained attention model: ImageNet preprocessing, no weights.

    Args:
        kind: Attention kind (its arXiv id goes into ``paper_ids``).
        backbone_arxiv: arXiv id of the backbone's paper.
        **kwargs: Family-specific entries (``first_conv``, ``classifier``, ...).
    """
    arxiv = get_attn_info(kind).arxiv
    return {
        'url': '',
        'num_classes': 1000, 'input_size': (3, 224, 224), 'pool_size': (7, 7),
        'crop_pct': 0.875, 'interpolation': 'bilinear',
        'mean': IMAGENET_DEFAULT_MEAN, 'std': IMAGENET_DEFAULT_STD,
        'license': 'apache-2.0',
        'paper_ids': tuple(f'arXiv:{p}' for p in (backbone_arxiv, arxiv) if p),
        'notes': ('untrained; start from plain backbone weights with '
                  'convattn_plugin.models.load_backbone_weights(model, checkpoint)',),
        **kwargs,
    }


def _entrypoint(family: ModelFamily, arch: str, kind: str) -> Callable[..., nn.Module]:
    name = f'{arch}_{kind}'

    def entrypoint(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        return family.create(name, arch, kind, pretrained, **kwargs)

    info = get_attn_info(kind)
    last = family.num_stages - 1
    if family.describe_placement is not None:
        where = f'{family.placement}: {family.describe_placement(kind)} (its paper\'s placement, else SE\'s slot)'
    elif info.quadratic:
        where = f'{family.placement} of stage {last} ({family.last_stage}) only, its cost being quadratic'
    else:
        where = f'{family.placement} of every stage'
    entrypoint.__doc__ = (
        f'{arch} with {info.paper or kind} attention {where}.\n\n'
        f'Keyword args ``attn_stages`` (0..{last}) and ``attn_kwargs`` override the placement and '
        f'options. {family.extra_doc}').rstrip()
    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = family.module
    return entrypoint


def register_family_kind(family: ModelFamily, kind: str, archs: Optional[list[str]] = None) -> list[str]:
    """Register ``{arch}_{kind}`` for every arch of ``family`` into timm.

    A name timm already has from elsewhere is skipped with a warning (never overwritten);
    a name this family registered before is skipped silently.

    Args:
        family: The family.
        kind: A registered attention kind.
        archs: A subset of ``family.archs``; ``None`` for all.

    Returns:
        The names registered by this call.
    """
    get_attn_info(kind)  # an unknown kind fails here, before anything is registered
    module = sys.modules[family.module]
    names = {}
    for arch in family.archs if archs is None else archs:
        name = f'{arch}_{kind}'
        if is_model(name):
            owner = model_entrypoint(name).__module__
            if owner != family.module:
                warnings.warn(f'{name} is already a timm model (from {owner}); not registering it again')
            continue
        names[name] = arch
    if not names:
        return []
    # timm's register_model reads the cfg from the module's default_cfgs: fill it first.
    papers = {name: family.backbone_paper(arch) for name, arch in names.items()}
    # Tags of published weights first, then `untrained*`: the star keeps untrained the default tag.
    from .published_weights import published_cfgs
    cfgs = {**published_cfgs(papers, family.cfg),
            **{f'{n}.untrained*': attn_cfg(kind, papers[n], **family.cfg) for n in names}}
    module.default_cfgs.update(generate_default_cfgs(cfgs))
    for name, arch in names.items():
        setattr(module, name, register_model(_entrypoint(family, arch, kind)))
    return list(names)
