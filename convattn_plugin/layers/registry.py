"""The registry of attention kinds and the ``create_attn`` factory.

The contract follows timm's ``create_attn``: a kind is built as
``cls(channels, **kwargs)``; a falsy kind means "no attention" and gives ``None``;
a class is passed through. Unlike timm's if/elif chain, kinds register themselves
with :func:`register_attention`, so users add their own without editing this file.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import torch.nn as nn

__all__ = [
    'AttentionInfo', 'register_attention', 'create_attn', 'get_attn', 'get_attn_info',
    'list_attentions', 'accepted_options',
]


@dataclass(frozen=True)
class AttentionInfo:
    """What the registry knows about one kind.

    Attributes:
        name: Registered name, e.g. ``'cbam'``.
        cls: The module class, built as ``cls(channels, **kwargs)``.
        paper: Short citation of the paper the kind comes from.
        arxiv: arXiv id of that paper (empty when there is none).
        quadratic: Cost and memory grow with (H*W)^2 (an attention matrix over all
            positions): backbones place such kinds in their last stages only by default.
    """
    name: str
    cls: type
    paper: str = ''
    arxiv: str = ''
    quadratic: bool = False

    @property
    def default_placement(self) -> str:
        """Where the ``resnet*_{kind}`` and ``vgg*_{kind}`` models put this kind by default."""
        if self.name in _PAPER_PLACEMENT_TEXT:
            return _PAPER_PLACEMENT_TEXT[self.name]
        return ('ResNet: every block of layer4; VGG: last stage' if self.quadratic
                else 'ResNet: every block of layer1-4; VGG: every stage')


# Built-in kinds whose paper puts them elsewhere in a ResNet than every block (text only: the
# ResNet models hold the placement itself; a test keeps the two in step).
_PAPER_PLACEMENT_TEXT = {
    'bam': 'ResNet: after layer1-3; VGG: every stage',
    'simam': 'ResNet: every block of layer1-4, before bn2; VGG: every stage',
    'gc': 'ResNet: every block of layer2-4; VGG: every stage',
    'nonlocal': 'ResNet: after layer3; VGG: last stage',
    'dualattn': 'ResNet: after layer4; VGG: last stage',
    'fca': 'ResNet: every block of layer1-4; DCT size 56, 28, 14, 7 by stage; VGG: every stage',
    'sk': 'ResNet: every block of layer1-4, in place of conv2 (bottlenecks; basic blocks: after act1); '
          'VGG: every stage',
    'psa': 'ResNet: every block of layer1-4, after act1; VGG: every stage',
}


_REGISTRY: dict[str, AttentionInfo] = {}


def register_attention(
        name: str,
        *,
        paper: str = '',
        arxiv: str = '',
        quadratic: bool = False,
        overwrite: bool = False,
) -> Callable[[type], type]:
    """Class decorator that registers an attention kind under ``name``.

    Names are case-insensitive: ``'MyGate'`` is stored, listed and built as ``'mygate'``
    (model names such as ``resnet18_mygate`` are lower case), and
    ``create_attn('MyGate', ...)`` finds it too.

    Args:
        name: Name used by :func:`create_attn` and by model names (``resnet18_<name>``);
            letters, digits and ``_``, stored in lower case.
        paper: Short citation, shown by ``python -m convattn_plugin.layers``.
        arxiv: arXiv id of the paper.
        quadratic: Whether the kind builds an (H*W) x (H*W) attention matrix.
        overwrite: Replace an existing kind of that name instead of raising.
    """
    if not isinstance(name, str) or not name.isascii() or not name.replace('_', '').isalnum():
        raise ValueError(f'attention name must be a non-empty identifier (letters, digits, _), got {name!r}')
    key = name.lower()

    def _register(cls: type) -> type:
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise TypeError(f'register_attention({name!r}) expects an nn.Module subclass, got {cls!r}')
        if key in _REGISTRY and not overwrite and _REGISTRY[key].cls is not cls:
            raise ValueError(
                f'attention kind {key!r} is already registered to {_REGISTRY[key].cls.__qualname__}; '
                'pass overwrite=True to replace it')
        _REGISTRY[key] = AttentionInfo(key, cls, paper, arxiv, quadratic)
        return cls

    return _register


def list_attentions() -> list[str]:
    """Sorted names of every registered kind."""
    return sorted(_REGISTRY)


def get_attn_info(kind: str) -> AttentionInfo:
    """The registry entry of ``kind``; ``ValueError`` listing the known kinds if unknown."""
    if not isinstance(kind, str) or kind.lower() not in _REGISTRY:
        raise ValueError(f'unknown attention kind {kind!r}; known kinds: {", ".join(list_attentions())}')
    return _REGISTRY[kind.lower()]


def get_attn(kind: Union[str, type, None, bool]) -> Optional[type]:
    """Resolve ``kind`` to a module class (``None`` for a falsy kind)."""
    if not kind:
        return None
    if isinstance(kind, type):
        return kind
    return get_attn_info(kind).cls


def accepted_options(cls: type) -> Optional[list[str]]:
    """Keyword options of an attention class (without ``channels``, ``device``, ``dtype``).

    ``None`` when the class takes ``**kwargs`` (then any option is passed on unchecked).
    """
    params = list(inspect.signature(cls).parameters.values())[1:]  # drop `channels`
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.name not in ('device', 'dtype')]


def create_attn(kind: Union[str, type, None, bool], channels: int, **kwargs: Any) -> Optional[nn.Module]:
    """Build attention kind ``kind`` for ``channels`` channels.

    Args:
        kind: A registered name, an ``nn.Module`` class (passed through), or a falsy
            value for "no attention".
        channels: Number of input (and output) channels.
        **kwargs: Options of that kind (``rd_ratio``, ``kernel_size``, ``device``, ...).

    Returns:
        The module, or ``None`` when ``kind`` is falsy.

    Raises:
        ValueError: Unknown kind; an option the kind does not take (the message lists the
            accepted ones); an option value the kind refuses.
    """
    cls = get_attn(kind)
    if cls is None:
        return None
    accepted = accepted_options(cls)
    unknown = [k for k in kwargs if k not in ('device', 'dtype') and accepted is not None and k not in accepted]
    if unknown:
        name = kind if isinstance(kind, str) else cls.__name__
        raise ValueError(
            f'{name!r} attention has no option {", ".join(map(repr, unknown))}; '
            f'accepted options: {", ".join(accepted) or "none"}')
    return cls(channels, **kwargs)
