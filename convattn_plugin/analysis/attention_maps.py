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

Only the first image of the batch is kept. Each map carries a label naming the kind, the
block and the gate's role (``'cbam layer1.0 channel'``, ``'cbam layer1.0 spatial'``).
Grad-CAM is in :mod:`.grad_cam`, the figure in :mod:`.attention_plot`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..layers import get_attn, list_attentions
from ..flops import is_attention_module

__all__ = ['AttentionMap', 'capture_attention', 'stage_of', 'kind_of', 'block_of']

# timm's attention classes and the kind names they are created by (``timm.layers.get_attn``).
_TIMM_KIND_NAMES = {
    'SEModule': 'se', 'EffectiveSEModule': 'ese', 'SqueezeExcite': 'se', 'EcaModule': 'eca', 'CecaModule': 'ceca',
    'GatherExcite': 'ge', 'GlobalContext': 'gc', 'CbamModule': 'cbam', 'LightCbamModule': 'lightcbam',
    'SelectiveKernel': 'sk', 'SplitAttn': 'splat', 'NonLocalAttn': 'nl', 'BatNonLocalAttn': 'bat',
}


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
        attn_kind: The attention kind (``'cbam'``, ``'se'``; timm's too), or the class name.
        block: The block the module sits in (``'layer1.0'``).
    """
    module: str
    stage: str
    kind: str
    source: str
    values: torch.Tensor = field(repr=False)
    module_type: str = ''
    attn_kind: str = ''
    block: str = ''

    @property
    def label(self) -> str:
        """``'<kind> <block> <role>'``, e.g. ``'cbam layer1.0 spatial'``."""
        role = self.kind if self.source in ('gate', 'spatial.gate', 'channel.gate') else f'{self.kind} {self.source}'
        return f'{self.attn_kind} {self.block} {role}'.strip()


def kind_of(module: nn.Module) -> str:
    """The kind name of an attention module: ours from the registry, timm's by class name."""
    cls = type(module)
    for kind in list_attentions():
        if get_attn(kind) is cls:
            return kind
    return _TIMM_KIND_NAMES.get(cls.__name__, cls.__name__)


def block_of(name: str) -> str:
    """The block of module ``name``: the name without its last component (``'layer1.0.se'`` -> ``'layer1.0'``)."""
    return name.rsplit('.', 1)[0] if '.' in name else name


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
            :func:`~convattn_plugin.flops.is_attention_module`.
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
        rec = records.setdefault(name, dict(module=m, input_hw=None, channels=0, gates={}, feats={}))

        def pre(mod, args, _name=name, _rec=rec):
            _rec['input_hw'] = tuple(args[0].shape[-2:])
            _rec['channels'] = args[0].shape[1]
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
        c = rec['channels']
        akind, block = kind_of(rec['module']), block_of(name)

        def add(kind, source, values):
            maps.append(AttentionMap(name, stage, kind, source, values.float(), typ, akind, block))

        strips = []
        for gname, outs in rec['gates'].items():
            for v in outs:
                shape = tuple(v.shape)
                # By exact shape: at a 1x1 map a spatial gate (1, 1, 1) has one value too.
                if shape == (1, h, w) and c != 1:
                    add('spatial', gname, v[0])                                      # (1, H, W)
                elif shape in ((c, 1, 1), (1, c), (c, 1), (c,)):
                    add('channel', gname, v.flatten())                              # (C, 1, 1) or (1, C)
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
