"""Put attention into an existing model at named positions, keeping its parameter names.

:func:`add_attention` works on any timm (or plain torch) CNN; the registered
``resnet*_{kind}`` / ``vgg*_{kind}`` models use the same two placements:

* **slot**: a residual block with an empty attention slot (timm's convention: an ``se``
  attribute that is ``None`` or ``nn.Identity``, as in ResNet's ``BasicBlock`` /
  ``Bottleneck``, RegNet and MobileNetV2 blocks) gets the attention there, inside
  the residual branch and before the addition (the CBAM paper's placement). A block whose
  ``se`` is taken (EfficientNet, MobileNetV3) gets it at the end of the branch instead:
  after its last norm (``bn3.act`` wrapped as :class:`ActAttn`), also before the addition.
* **output**: attention on the output of a module. An ``nn.Sequential`` (a stage), or a
  stage that ends with an ``nn.Sequential`` named ``blocks`` (ConvNeXt), gets it appended
  as a child named ``attn``; a parameter-free module (an activation, a pool) is wrapped as
  :class:`ActAttn`. Modules with parameters of their own are never wrapped, so every
  existing key of the state dict keeps its name and plain weights still load.

Without ``positions``, known timm families get a default (:mod:`.positions`), so
``add_attention(timm.create_model('efficientnet_b0'), 'cbam')`` just works.

Every attention option is checked when the model is built
(:func:`~convattn_plugin.models.attention_factory.build_attention`), so an option that
cannot fit a stage fails there, naming the stage and its channels.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..layers import get_attn_info
from .attention_factory import ActAttn, build_attention
from .positions import resolve_positions

__all__ = ['add_attention']

# Norm layers that may end a block's residual branch (timm's BatchNormAct2d is a BatchNorm2d).
_NORMS = (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)

_PLACEMENTS = ('auto', 'slot', 'output')


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


def _branch_end(module: nn.Module) -> Optional[str]:
    """Name of the parameter-free ``act`` that ends a block's residual branch, or ``None``.

    timm's MBConv-style blocks (EfficientNet, MobileNet) end their branch with a norm whose
    activation is ``nn.Identity`` (``bn3.act``); the last norm defined in the block that has
    a parameter-free ``act`` child is taken.
    """
    found = None
    for name, child in module.named_modules():
        act = getattr(child, 'act', None)
        if name and isinstance(child, _NORMS) and isinstance(act, nn.Module) and _is_parameter_free(act):
            found = f'{name}.act'
    return found


def _slot_probe(model: nn.Module, name: str, module: nn.Module) -> Optional[tuple[str, Callable[[], None]]]:
    """A probe inside the residual branch of block ``module``: its empty ``se`` slot, else the
    end of the branch; ``None`` when the block has neither."""
    if _free_slot(module):
        old = module.se
        module.se = _ChannelProbe(f'{name}.se')
        return f'{name}.se', lambda: setattr(module, 'se', old)
    end = _branch_end(module) if hasattr(module, 'se') else None
    if end is not None:
        path, act = f'{name}.{end}', module.get_submodule(end)
        model.set_submodule(path, ActAttn(act, _ChannelProbe(f'{path}.attn')))
        return f'{path}.attn', lambda: model.set_submodule(path, act)
    return None


def _output_probe(model: nn.Module, name: str, module: nn.Module) -> Optional[tuple[str, Callable[[], None]]]:
    """A probe on the output of ``module``; ``None`` when that needs renaming its parameters."""
    blocks = getattr(module, 'blocks', None)
    if not isinstance(module, nn.Sequential) and isinstance(blocks, nn.Sequential) \
            and [n for n, _ in module.named_children()][-1] == 'blocks':
        # A stage that ends with its blocks (timm's ConvNeXtStage): their output is the stage's.
        name, module = f'{name}.blocks', blocks
    if isinstance(module, nn.Sequential):
        if 'attn' in dict(module.named_children()):
            raise ValueError(f'position {name!r} already has attention (child `attn`)')
        module.add_module('attn', _ChannelProbe(f'{name}.attn'))  # runs last; keeps the indices
        return f'{name}.attn', lambda: delattr(module, 'attn')
    if _is_parameter_free(module):
        model.set_submodule(name, ActAttn(module, _ChannelProbe(f'{name}.attn')))
        return f'{name}.attn', lambda: model.set_submodule(name, module)
    return None


def _place_probe(model: nn.Module, name: str, module: nn.Module, placement: str) -> tuple[str, Callable[[], None]]:
    """Put a probe where the attention for ``name`` goes; return its module path and an undo."""
    placed = _slot_probe(model, name, module) if placement in ('auto', 'slot') else None
    if placed is None and placement == 'slot':
        found = 'no `se` attribute' if not hasattr(module, 'se') else f'`se` is already {type(module.se).__name__}'
        raise ValueError(
            f'position {name!r} ({type(module).__name__}) has no empty attention slot ({found}) and no '
            "norm ending its branch; use placement='output' for attention on its output")
    if placed is None:
        placed = _output_probe(model, name, module)
    if placed is None:
        raise ValueError(
            f'position {name!r} ({type(module).__name__}) cannot take attention without renaming its parameters: '
            'name a residual block (an `se` slot, or a norm ending its branch), an nn.Sequential or a stage '
            'ending in `blocks` (attention appended), or a parameter-free module such as the activation '
            'that ends a stage')
    return placed


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
        positions: Optional[Union[str, Sequence[str]]] = None,
        placement: str = 'auto',
        **attn_kwargs: Any,
) -> nn.Module:
    """Insert attention ``kind`` into ``model`` at ``positions`` (in place) and return the model.

    The channels of each position are found by one small eval-mode forward pass (64 px,
    batch 1), so any convolutional model works. No existing parameter is renamed: the
    attention adds ``<block>.se.*`` (slot) or ``<module>.attn.*`` (output) keys, so the
    plain model's checkpoint still loads (see :func:`load_backbone_weights`).

    Examples::

        m = add_attention(timm.create_model('resnet50'), 'cbam')                 # every block (layer*.*)
        m = add_attention(timm.create_model('vgg16'), 'localattn')               # end of each conv stage
        m = add_attention(timm.create_model('convnext_atto'), 'se', 'stages.*', rd_ratio=1 / 8)
        m = add_attention(timm.create_model('efficientnet_b0'), 'cbam', 'blocks.*.*')  # end of each branch

    Args:
        model: The model to modify.
        kind: A registered attention kind (``convattn_plugin.list_attentions()``).
        positions: Module names from ``model.named_modules()``, or glob patterns where each
            ``*`` matches within one dotted level (``'layer*.*'`` is every ResNet block);
            ``None``: the default of the model's timm family (:mod:`.positions`).
        placement: ``'slot'`` (inside a block's residual branch: its empty ``se`` slot, or
            after the branch's last norm), ``'output'`` (on the module's output: appended to
            an ``nn.Sequential`` or a stage's ``blocks``, or wrapping a parameter-free module
            in :class:`ActAttn`), or ``'auto'`` (slot when the block has one, otherwise output).
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
    targets = resolve_positions(model, positions)
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
