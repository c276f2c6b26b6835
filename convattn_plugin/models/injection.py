"""Put attention into an existing model at named positions, keeping its parameter names.

:func:`add_attention` works on any timm (or plain torch) CNN; the registered
``resnet*_{kind}`` / ``vgg*_{kind}`` models use the same two placements:

* **slot**: a residual block with an empty attention slot (timm's convention: an ``se``
  attribute that is ``None`` or ``nn.Identity``, as in ResNet's ``BasicBlock`` /
  ``Bottleneck`` and EfficientNet / MobileNet blocks) gets the attention there, inside
  the residual branch and before the addition (the CBAM paper's placement).
* **output**: attention on the output of a module. An ``nn.Sequential`` (a stage) gets it
  appended as a child named ``attn``; a parameter-free module (an activation, a pool) is
  wrapped as :class:`ActAttn`. Modules with parameters of their own are never wrapped,
  so every existing key of the state dict keeps its name and plain weights still load.

Every attention option is checked when the model is built
(:func:`~convattn_plugin.models.attention_factory.build_attention`), so an option that
cannot fit a stage fails there, naming the stage and its channels.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..layers import get_attn_info
from .act_attn import ActAttn
from .attention_factory import build_attention

__all__ = ['add_attention']

_PLACEMENTS = ('auto', 'slot', 'output')


def _match(pattern: str, name: str) -> bool:
    """Glob per dotted component: ``layer*.*`` matches ``layer1.0`` but not ``layer1.0.conv1``."""
    parts, pattern_parts = name.split('.'), pattern.split('.')
    return len(parts) == len(pattern_parts) and all(fnmatchcase(n, p) for n, p in zip(parts, pattern_parts))


def _free_slot(module: nn.Module) -> bool:
    return hasattr(module, 'se') and (module.se is None or isinstance(module.se, nn.Identity))


def _is_parameter_free(module: nn.Module) -> bool:
    return next(module.parameters(), None) is None and next(module.buffers(), None) is None


class _ChannelProbe(nn.Module):
    """Stands where an attention module will go and records the channels it sees."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where
        self.channels: Optional[int] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(
                f'attention position {self.where} gets a tensor of shape {tuple(x.shape)}; '
                'attention kinds need an (N, C, H, W) feature map')
        self.channels = x.shape[1]
        return x


def _place_probe(model: nn.Module, name: str, module: nn.Module, placement: str) -> tuple[str, Callable[[], None]]:
    """Put a probe where the attention for ``name`` goes; return its module path and an undo."""
    if placement in ('auto', 'slot') and _free_slot(module):
        old = module.se
        module.se = _ChannelProbe(f'{name}.se')
        return f'{name}.se', lambda: setattr(module, 'se', old)
    if placement == 'slot':
        found = 'no `se` attribute' if not hasattr(module, 'se') else f'`se` is already {type(module.se).__name__}'
        raise ValueError(
            f'position {name!r} ({type(module).__name__}) has no empty attention slot ({found}); '
            "use placement='output' for attention on its output")
    if isinstance(module, nn.Sequential):
        if 'attn' in module._modules:
            raise ValueError(f'position {name!r} already has attention (child `attn`)')
        module.add_module('attn', _ChannelProbe(f'{name}.attn'))  # runs last; keeps the indices
        return f'{name}.attn', lambda: delattr(module, 'attn')
    if _is_parameter_free(module):
        model.set_submodule(name, ActAttn(module, _ChannelProbe(f'{name}.attn')))
        return f'{name}.attn', lambda: model.set_submodule(name, module)
    raise ValueError(
        f'position {name!r} ({type(module).__name__}) cannot take attention without renaming its parameters: '
        'name a residual block with an empty `se` slot, an nn.Sequential (attention appended) '
        'or a parameter-free module such as the activation that ends a stage')


def _resolve_positions(model: nn.Module, positions: Union[str, Sequence[str]]) -> dict[str, nn.Module]:
    patterns = [positions] if isinstance(positions, str) else list(positions)
    if not patterns:
        raise ValueError('positions is empty: name at least one module (glob patterns allowed)')
    modules = {n: m for n, m in model.named_modules() if n}
    targets: dict[str, nn.Module] = {}
    for pattern in patterns:
        found = {n: m for n, m in modules.items() if _match(pattern, n)}
        if not found:
            top = ', '.join(n for n in modules if '.' not in n)
            raise ValueError(
                f'position {pattern!r} matches no module of {type(model).__name__} '
                f'(globs match one dotted level per `*`; its top-level modules are: {top})')
        targets.update(found)
    # A module and one of its ancestors both selected would get attention twice on one path.
    for n in targets:
        parent = next((p for p in targets if n.startswith(p + '.')), None)
        if parent is not None:
            raise ValueError(f'positions select both {parent!r} and its submodule {n!r}; choose one level')
    return targets


@torch.no_grad()
def _probe_channels(model: nn.Module, probe_paths: list[str]) -> dict[str, int]:
    """One eval-mode forward at a small size; restores every module's train/eval flag."""
    modes = {m: m.training for m in model.modules()}
    cfg = getattr(model, 'pretrained_cfg', None) or {}
    size = tuple(cfg['input_size']) if cfg.get('fixed_input_size') else (getattr(model, 'in_chans', 3), 64, 64)
    ref = next(model.parameters(), None)
    x = torch.zeros((1, *size), device=ref.device if ref is not None else None,
                    dtype=ref.dtype if ref is not None else None)
    try:
        model.eval()
        model(x)
    finally:
        for m, mode in modes.items():
            m.training = mode
    channels = {}
    for path in probe_paths:
        probe = model.get_submodule(path)
        if probe.channels is None:
            raise ValueError(f'attention position {probe.where} is not on the forward path of {type(model).__name__}')
        channels[path] = probe.channels
    return channels


def add_attention(
        model: nn.Module,
        kind: str,
        positions: Union[str, Sequence[str]],
        placement: str = 'auto',
        **attn_kwargs: Any,
) -> nn.Module:
    """Insert attention ``kind`` into ``model`` at ``positions`` (in place) and return the model.

    The channels of each position are found by one small eval-mode forward pass (64 px,
    batch 1), so any convolutional model works. No existing parameter is renamed: the
    attention adds ``<block>.se.*`` (slot) or ``<module>.attn.*`` (output) keys, so the
    plain model's checkpoint still loads (see :func:`load_backbone_weights`).

    Examples::

        m = add_attention(timm.create_model('resnet50'), 'cbam', 'layer*.*')     # every block, CBAM placement
        vgg = timm.create_model('vgg16')                                         # end of each conv stage
        m = add_attention(vgg, 'localattn', [info['module'] for info in vgg.feature_info[:-1]])
        m = add_attention(timm.create_model('convnext_tiny'), 'se', 'stages.*.blocks', rd_ratio=1 / 8)
        m = add_attention(timm.create_model('mobilenetv2_100'), 'eca', 'blocks.*.*')  # MBConv `se` slots

    Args:
        model: The model to modify.
        kind: A registered attention kind (``convattn_plugin.list_attentions()``).
        positions: Module names from ``model.named_modules()``, or glob patterns where each
            ``*`` matches within one dotted level (``'layer*.*'`` is every ResNet block).
        placement: ``'slot'`` (a block's empty ``se`` slot, inside the residual branch),
            ``'output'`` (on the module's output: appended to an ``nn.Sequential``, or wrapping
            a parameter-free module in :class:`ActAttn`), or ``'auto'`` (slot when the
            module has an empty one, otherwise output).
        **attn_kwargs: Options of the kind, e.g. ``rd_ratio=1/8``.

    Returns:
        ``model``, modified in place.

    Raises:
        ValueError: A position that matches no module, cannot take attention, or is not
            executed by ``forward``; an unknown kind; an option that does not fit. The
            model is then left unchanged.
    """
    get_attn_info(kind)  # fail on an unknown kind before touching the model
    if placement not in _PLACEMENTS:
        raise ValueError(f'placement must be one of {_PLACEMENTS}, got {placement!r}')
    targets = _resolve_positions(model, positions)
    ref = next(model.parameters(), None)
    if ref is not None:  # new attention lives where the model lives
        attn_kwargs = {'device': ref.device, 'dtype': ref.dtype, **attn_kwargs}
    undo: list[Callable[[], None]] = []
    try:
        probe_paths = []
        for name, module in targets.items():
            path, undo_fn = _place_probe(model, name, module, placement)
            probe_paths.append(path)
            undo.append(undo_fn)
        attns = {
            path: build_attention(kind, chs, f'position {path} ({chs} channels)', **attn_kwargs)
            for path, chs in _probe_channels(model, probe_paths).items()}
    except Exception:
        for undo_fn in reversed(undo):  # leave the model as it was
            undo_fn()
        raise
    for path, attn in attns.items():
        model.set_submodule(path, attn)
    return model
