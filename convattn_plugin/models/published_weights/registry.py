"""The published ImageNet weights this package loads, one :class:`PublishedWeights` per tag.

Each entry says which of our models takes the authors' file (``resnet50_cbam``), under which
timm tag (``jongchan_in1k``), with which fixed model arguments (the authors' architecture:
options such as ``mlp_bias`` or per-stage kernel sizes), how their keys become ours, and
what the authors report for it. The source files (``jongchan.py``, ``bangguwu.py``, ...) fill
the registry; :mod:`.timm_cfgs` turns it into timm pretrained tags.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import torch

__all__ = ['PUBLISHED', 'PublishedWeights', 'get_published', 'list_published', 'register_published']

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class PublishedWeights:
    """One published checkpoint and the model that loads it.

    Attributes:
        model: Our timm model name, e.g. ``'resnet50_cbam'``.
        tag: The pretrained tag, ``'<source>_in1k'``.
        model_args: Arguments of the model that make it the authors' architecture; the tag
            fixes them (a user's conflicting value is refused).
        convert: The authors' state dict (wrapper and ``module.`` removed) -> our keys.
        paper: Title and venue of the paper.
        arxiv: arXiv id of the paper, or ``''``.
        repo_url: The authors' repository.
        download_url: Where the authors publish the file (their README's link).
        file_name: The file's name as published (when ``file_name_known``), else the name the
            cfg's ``file`` looks for in the working directory.
        file_name_known: Whether the authors' page shows the file's name.
        license: Licence of the authors' repository (``'unknown'`` when it has none).
        top1: ImageNet-1k top-1 (%) as reported by the authors; ``None`` if they report none.
        top5: Top-5 (%) as reported, or ``None``.
        reported_in: Where the figures come from.
        cfg: Entries of the pretrained cfg other than the defaults (preprocessing).
        notes: Extra sentences for the cfg's ``notes``.
    """
    model: str
    tag: str
    model_args: Mapping[str, Any]
    convert: Callable[[StateDict], StateDict]
    paper: str
    arxiv: str
    repo_url: str
    download_url: str
    file_name: str
    license: str
    top1: Optional[float]
    top5: Optional[float] = None
    reported_in: str = "the authors' README"
    cfg: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    file_name_known: bool = True

    @property
    def published_as(self) -> str:
        """The file in words: its published name, or where it is."""
        return self.file_name if self.file_name_known else 'the file'

    @property
    def name(self) -> str:
        """``'{model}.{tag}'``, the name ``timm.create_model`` takes."""
        return f'{self.model}.{self.tag}'

    @property
    def reported(self) -> str:
        """The reported accuracy in words."""
        if self.top1 is None:
            return f'no top-1 recorded here; see {self.reported_in}'
        top5 = f', top-5 {self.top5:.2f}%' if self.top5 is not None else ''
        return f'ImageNet-1k top-1 {self.top1:.2f}%{top5} (reported in {self.reported_in}, not measured here)'


PUBLISHED: dict[str, PublishedWeights] = {}


def register_published(entry: PublishedWeights) -> PublishedWeights:
    """Add ``entry``; a second entry with the same ``model.tag`` is an error."""
    if entry.name in PUBLISHED:
        raise ValueError(f'published weights {entry.name!r} are already registered')
    PUBLISHED[entry.name] = entry
    return entry


def get_published(name: str) -> PublishedWeights:
    """The entry for ``'model.tag'``; a clear error listing the known names otherwise."""
    try:
        return PUBLISHED[name]
    except KeyError:
        known = ', '.join(sorted(PUBLISHED))
        raise ValueError(f'{name!r} is not a tag with published weights; known: {known}') from None


def list_published(model: str = '') -> list[str]:
    """Names ``'model.tag'`` of the published weights, of one model if ``model`` is given."""
    return sorted(n for n, e in PUBLISHED.items() if not model or e.model == model)
