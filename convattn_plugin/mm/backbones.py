"""mmengine backbones over the project's timm models: ResNet and VGG with attention.

Both hold the timm model (``timm.create_model(name, num_classes=0)`` with
``name = f'{arch}_{attention}'``, or the plain timm ``arch`` when ``attention`` is
``None``) and return a tuple of stage outputs selected by ``out_indices``, in
mmpretrain's backbone convention (``frozen_stages``, ``norm_eval``, ``init_cfg``). A plain
baseline is the same class with ``attention=None``, so comparisons differ only in the
attention. State-dict keys are those of the timm model under ``timm_model.``.

``ConvAttnResNet`` with ``init_cfg=dict(type='Pretrained', checkpoint=...)`` also reads a plain
ResNet's weights (see :meth:`ConvAttnResNet.init_weights`): torchvision's ``resnet{depth}`` state
dict or an mmpretrain ResNet checkpoint fill everything but the attention, which keeps its own
initialisation and is reported key by key.
"""
from __future__ import annotations

import logging
import os
import re
from typing import Any, Mapping, Optional, Sequence, Union

import timm
import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.model.weight_init import PretrainedInit, update_init_info
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import get_attn_info, list_attentions
from ..models.attention_factory import attention_types
from ..models.pretrained import (ArchitectureMismatchError, LoadReport, diff_state_dict, load_backbone_weights,
                                 state_dict_of)
from .url_checkpoints import NAMED_SCHEMES, URL_SCHEMES, load_local_safely, load_named_model_safely, load_url_safely

__all__ = ['ConvAttnResNet', 'ConvAttnVGG', 'timm_model_name', 'check_attention']


def check_attention(attention: Optional[str]) -> Optional[str]:
    """``attention`` lower-cased if it is a registered kind (``None`` passes); else ``ValueError``."""
    if attention is None:
        return None
    if not isinstance(attention, str) or not attention:
        raise ValueError(f'attention must be a kind name or None, got {attention!r}; '
                         f'known kinds: {", ".join(list_attentions())}')
    return get_attn_info(attention).name  # raises ValueError listing the kinds


def timm_model_name(arch: str, attention: Optional[str]) -> str:
    """Name of the timm model a backbone wraps: ``arch`` or ``f'{arch}_{attention}'``."""
    return arch if attention is None else f'{arch}_{attention}'


def _create_timm_model(arch: str, attention: Optional[str], attn_kwargs: Optional[dict],
                       attn_stages: Optional[Sequence[int]], timm_kwargs: Optional[dict]) -> nn.Module:
    # Plain dicts all the way down: nested ConfigDicts would reach timm's model args (config.json).
    kwargs = ConfigDict(timm_kwargs or {}).to_dict()
    kwargs.setdefault('num_classes', 0)
    name = timm_model_name(arch, attention)
    if attention is None:
        if attn_kwargs or attn_stages is not None:
            raise ValueError('attn_kwargs / attn_stages need an attention kind, but attention=None')
        return timm.create_model(name, **kwargs)
    if not timm.is_model(name):
        raise RuntimeError(
            f'timm has no model {name!r}: `import convattn_plugin` registers the attention models '
            'into timm (is convattn_plugin.models importable?)')
    if attn_stages is not None:
        kwargs['attn_stages'] = tuple(attn_stages)
    if attn_kwargs:
        kwargs['attn_kwargs'] = dict(attn_kwargs)
    return timm.create_model(name, **kwargs)


def _check_indices(out_indices: Union[int, Sequence[int]], num_stages: int, owner: str) -> tuple[int, ...]:
    if isinstance(out_indices, int):
        out_indices = (out_indices,)
    out = []
    for i in out_indices:
        if isinstance(i, bool) or not isinstance(i, int) or not -num_stages <= i < num_stages:
            raise ValueError(f'{owner}: out_indices must be ints in [0, {num_stages - 1}] '
                             f'(or negative from the end), got {tuple(out_indices)!r}')
        out.append(i % num_stages)
    if not out:
        raise ValueError(f'{owner}: out_indices is empty')
    return tuple(out)


def _check_frozen(frozen_stages: int, num_stages: int, owner: str) -> int:
    if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) \
            or not -1 <= frozen_stages <= num_stages:
        raise ValueError(f'{owner}: frozen_stages must be an int in [-1, {num_stages}], got {frozen_stages!r}')
    return frozen_stages


_SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')


def _read_checkpoint(source: str, map_location: Any) -> Any:
    """What ``source`` holds, read by the safe loaders mmengine is given (:mod:`.url_checkpoints`)."""
    if source.startswith(NAMED_SCHEMES):  # resolved by mmengine.runner.checkpoint's model tables
        return load_named_model_safely(source, map_location)
    if source.startswith(URL_SCHEMES):
        return load_url_safely(source, map_location)
    if _SCHEME.match(source):
        raise ValueError(f'ConvAttnResNet: init_cfg Pretrained checkpoint {source!r}: unsupported scheme; accepted: '
                         f'a local path, {" ".join(URL_SCHEMES)} URLs, or {" ".join(NAMED_SCHEMES)} model names')
    return load_local_safely(source, map_location)


def _backbone_part(state_dict: dict[str, torch.Tensor], prefix: Optional[str],
                   source: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The keys under ``prefix`` (default ``backbone.`` where a whole model's keys are), and those dropped."""
    if prefix is None:
        if not any(k.startswith('backbone.') for k in state_dict):
            return state_dict, []
        prefix = 'backbone.'
    if not isinstance(prefix, str) or not prefix.strip('.'):
        raise ValueError(f"ConvAttnResNet: init_cfg Pretrained prefix must be a key prefix such as 'backbone.', "
                         f'got {prefix!r}')
    prefix = prefix if prefix.endswith('.') else prefix + '.'
    kept = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not kept:
        tops = sorted({k.split('.', 1)[0] + '.' for k in state_dict})
        raise ValueError(f'ConvAttnResNet: init_cfg Pretrained prefix {prefix!r} matches no key of {source}; '
                         f'its keys start with: {", ".join(tops[:20])}')
    return kept, sorted(k for k in state_dict if not k.startswith(prefix))


class _ResNetPretrainedInit:
    """A weight initializer (built by mmengine's ``initialize``) for :meth:`ConvAttnResNet.init_weights`."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.cfg = cfg

    def __call__(self, module: 'ConvAttnResNet') -> None:
        module.pretrained_report = module._load_pretrained(self.cfg)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=f'ConvAttnResNet Pretrained: load from {self.cfg["checkpoint"]}')


class _TimmStagesBackbone(BaseModule):
    """Shared part: freezing, ``norm_eval`` and ``train()``."""

    num_stages: int

    def __init__(self, frozen_stages: int, norm_eval: bool, init_cfg: Optional[Union[dict, list]]) -> None:
        super().__init__(init_cfg=init_cfg)
        self.frozen_stages = _check_frozen(frozen_stages, self.num_stages, type(self).__name__)
        self.norm_eval = bool(norm_eval)

    def _frozen_modules(self) -> list[nn.Module]:
        raise NotImplementedError

    def _freeze_stages(self) -> None:
        for m in self._frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> '_TimmStagesBackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


class ConvAttnResNet(_TimmStagesBackbone):
    """ResNet (timm's) with an attention kind in its blocks, as an mmengine backbone.

    Args:
        depth: 18, 34, 50, 101 or 152.
        attention: A kind of :func:`convattn_plugin.list_attentions`, or ``None`` for
            the plain ResNet.
        attn_kwargs: Options of the kind (``rd_ratio``, ``kernel_size``, ...).
        attn_stages: Stages 0-3 (``layer1``-``layer4``) that get attention; ``None``
            keeps the timm model's default (each kind's paper placement, ``attn_position='paper'``).
        out_indices: Stages to return, 0-3 for ``layer1``-``layer4`` (mmpretrain's
            numbering).
        frozen_stages: Freeze the stem (0) and ``layer1`` .. ``layer{frozen_stages}``;
            -1 freezes nothing.
        norm_eval: Keep every BatchNorm in eval mode while training.
        stem: ``'imagenet'``: timm's 7x7 stride-2 convolution and max pool (stride 4);
            ``'cifar'``: a 3x3 stride-1 convolution and no pool, as mmpretrain's
            ``ResNet_CIFAR``, for 32 px inputs (16x the compute of the ImageNet stem).
        timm_kwargs: Extra arguments of ``timm.create_model`` (``drop_path_rate``, ...).
        init_cfg: mmengine initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """
    depths = (18, 34, 50, 101, 152)
    num_stages = 4

    def __init__(
            self,
            depth: int = 50,
            attention: Optional[str] = None,
            attn_kwargs: Optional[dict] = None,
            attn_stages: Optional[Sequence[int]] = None,
            out_indices: Union[int, Sequence[int]] = (3,),
            frozen_stages: int = -1,
            norm_eval: bool = False,
            stem: str = 'imagenet',
            timm_kwargs: Optional[dict] = None,
            init_cfg: Optional[Union[dict, list]] = None,
    ) -> None:
        if depth not in self.depths:
            raise ValueError(f'ConvAttnResNet: invalid depth {depth!r}; valid depths: {self.depths}')
        if stem not in ('imagenet', 'cifar'):
            raise ValueError(f"ConvAttnResNet: invalid stem {stem!r}; valid stems: 'imagenet', 'cifar'")
        super().__init__(frozen_stages, norm_eval, init_cfg)
        self.depth = depth
        self.attention = check_attention(attention)
        self.out_indices = _check_indices(out_indices, self.num_stages, type(self).__name__)
        self.arch = f'resnet{depth}'
        self.stem = stem
        self.timm_model = _create_timm_model(self.arch, self.attention, attn_kwargs, attn_stages, timm_kwargs)
        if stem == 'cifar':
            self._make_cifar_stem()
        # timm taps: 0 = stem, 1..4 = layer1..layer4.
        self._taps = [i + 1 for i in self.out_indices]
        self.timm_model.prune_intermediate_layers(self._taps, prune_head=True)
        # timm initialised it; mmengine must not call ResNet.init_weights again (it would
        # re-draw every conv, attention included, and undo the kinds' own initialisation).
        self.timm_model.is_init = True
        info = self.timm_model.feature_info
        self.out_channels = tuple(info[t]['num_chs'] for t in self._taps)
        self.out_strides = tuple(info[t]['reduction'] for t in self._taps)
        self._freeze_stages()

    def _make_cifar_stem(self) -> None:
        m = self.timm_model
        conv = m.conv1
        if not isinstance(conv, nn.Conv2d):
            raise ValueError("stem='cifar' needs timm's single-conv stem (stem_type='')")
        m.conv1 = nn.Conv2d(conv.in_channels, conv.out_channels, 3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(m.conv1.weight, mode='fan_out', nonlinearity='relu')
        m.maxpool = nn.Identity()
        for f in m.feature_info:
            f['reduction'] = max(1, f['reduction'] // 4)

    def init_weights(self) -> None:
        """mmengine's initialisation; a ``Pretrained`` init_cfg also takes plain ResNet weights.

        Without a ``Pretrained`` entry this is :meth:`BaseModule.init_weights` (the timm model
        keeps timm's initialisation). With one, the checkpoint (a path, an ``http(s)://`` URL, or
        mmengine's ``torchvision://`` / ``open-mmlab://`` / ``mmcls://`` names, read by
        :func:`convattn_plugin.checkpoint.load_weights`) may be in any of these layouts:

        * torchvision's ``resnet{depth}`` state dict (``conv1.weight``, ``layer1.0.conv1.weight``);
        * an mmpretrain / mmdet / mmseg checkpoint: keys under ``backbone.`` (used without a
          ``prefix``; the ``head.`` / ``neck.`` keys are dropped), possibly under ``state_dict``;
        * this class's own keys (``timm_model.``), e.g. ``prefix='backbone.'`` of a trained model.

        The classifier (``fc.``), stages pruned by ``out_indices`` and layers an attention
        placement replaces are dropped. The attention keys the checkpoint lacks keep their own
        initialisation; every key is logged (mmengine's current logger, a
        :class:`~convattn_plugin.models.pretrained.LoadReport`) and kept as ``self.pretrained_report``.

        Raises:
            ArchitectureMismatchError: The checkpoint is of another depth or architecture (every
                missing, shape-mismatched and unknown key listed; all of them on its ``.report``).
            ValueError: ``prefix`` matches no key or is not a str, or the
                checkpoint names a storage scheme other than those above.
        """
        cfgs = [] if not self.init_cfg else [self.init_cfg] if isinstance(self.init_cfg, dict) else list(self.init_cfg)
        pretrained = [c for c in cfgs if c.get('type') in ('Pretrained', PretrainedInit)]
        if not pretrained or self.is_init:
            super().init_weights()
            return
        # mmengine applies Pretrained entries after the others; ours take their place, so the
        # initialisation record mmengine logs says which tensors came from the file.
        init_cfg = self.init_cfg
        self.init_cfg = [c for c in cfgs if c not in pretrained] + [
            dict(type=_ResNetPretrainedInit, cfg=dict(c)) for c in pretrained]
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg

    def _load_pretrained(self, cfg: Mapping[str, Any]) -> LoadReport:
        source = cfg.get('checkpoint')
        if not isinstance(source, (str, os.PathLike)) or not str(source):
            raise ValueError(f"ConvAttnResNet: init_cfg Pretrained needs checkpoint='<path or URL>', got {source!r}")
        source = str(source)
        state_dict = state_dict_of(_read_checkpoint(source, cfg.get('map_location', 'cpu')), source)
        state_dict, dropped = _backbone_part(state_dict, cfg.get('prefix'), source)
        state_dict = {k[len('timm_model.'):] if k.startswith('timm_model.') else k: v for k, v in state_dict.items()}
        self._check_covers(state_dict, source)
        report = load_backbone_weights(self.timm_model, state_dict, strict=False)
        report.unexpected_keys = sorted(report.unexpected_keys + dropped)
        fresh = sorted(set(report.missing_keys) & set(report.attention_keys))
        print_log(f'ConvAttnResNet(depth={self.depth}, attention={self.attention!r}) from {source}: '
                  f'{len(fresh)} attention keys keep their own initialisation; {report}',
                  logger='current', level=logging.INFO)
        return report

    def _check_covers(self, state_dict: Mapping[str, torch.Tensor], source: str) -> None:
        """Raise, listing every key, unless ``state_dict`` is this ResNet's backbone (attention aside)."""
        model = self.timm_model
        own = model.state_dict()
        modules = dict(model.named_modules())
        attn = [n for n, m in modules.items() if isinstance(m, attention_types())]
        pruned = tuple(f'layer{i}.' for i in range(max(self._taps) + 1, self.num_stages + 1))

        def replaced(key: str) -> bool:
            # The module is there without this tensor: a placement replaced it (SK for conv2 + bn2).
            owner = key.rpartition('.')[0]
            return owner in modules and (isinstance(modules[owner], nn.Identity)
                                         or any(owner == a or owner.startswith(a + '.') for a in attn))

        diff = diff_state_dict(own, state_dict)
        missing = [k for k in diff.missing_keys if not any(k == a or k.startswith(a + '.') for a in attn)]
        mismatched = [f'{k}: model {tuple(own[k].shape)}, checkpoint {tuple(state_dict[k].shape)}'
                      for k in diff.mismatched_keys]
        unknown = [k for k in diff.unexpected_keys if not (k.startswith(('fc.',) + pruned) or replaced(k))]
        if missing or mismatched or unknown:
            lines = [f'  missing: {k}' for k in missing] + [f'  shape-mismatched: {k}' for k in mismatched]
            lines += [f'  not in this model: {k}' for k in unknown]
            report = LoadReport(loaded=diff.loaded, missing_keys=missing, unexpected_keys=unknown,
                                mismatched_keys=list(diff.mismatched_keys))
            raise ArchitectureMismatchError(
                f'ConvAttnResNet(depth={self.depth}, attention={self.attention!r}): init_cfg Pretrained {source} is '
                f'not a ResNet-{self.depth} backbone ({len(diff.loaded)} of {len(own)} keys match; {len(missing)} '
                f'missing, {len(mismatched)} with another shape, {len(unknown)} not in this model). Accepted: '
                f"torchvision's resnet{self.depth} state dict, an mmpretrain ResNet-{self.depth} checkpoint "
                "(backbone.* keys), or a ConvAttnResNet checkpoint (timm_model.* keys, under backbone. in a "
                'whole model\'s). Keys:\n' + '\n'.join(lines), report)

    def _frozen_modules(self) -> list[nn.Module]:
        m = self.timm_model
        if self.frozen_stages < 0:
            return []
        mods = [m.conv1, m.bn1]
        mods += [getattr(m, f'layer{i}') for i in range(1, self.frozen_stages + 1)]
        return mods

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.timm_model.forward_intermediates(
            x, indices=self._taps, intermediates_only=True, stop_early=True)
        return tuple(feats)


class ConvAttnVGG(_TimmStagesBackbone):
    """VGG (timm's) with an attention kind in its stages, as an mmengine backbone.

    Stage ``i`` (0-4) ends with the ``i``-th max pool, as in mmpretrain's ``VGG``
    (``with_last_pool=True``); timm's classifier MLP (``pre_logits``) and ``head`` are
    removed, so a neck and head from the config follow.

    Args:
        depth: 11, 13, 16 or 19.
        with_bn: The ``_bn`` variant (BatchNorm after every convolution).
        attention: A kind of :func:`convattn_plugin.list_attentions`, or ``None``.
        attn_kwargs: Options of the kind.
        attn_stages: Stages 0-4 that get attention; ``None`` keeps the timm model's
            default (every stage, the last for quadratic kinds).
        out_indices: Stages to return, 0-4.
        frozen_stages: Freeze stages ``0 .. frozen_stages - 1``; -1 or 0 freezes nothing.
        norm_eval: Keep every BatchNorm in eval mode while training.
        timm_kwargs: Extra arguments of ``timm.create_model``.
        init_cfg: mmengine initialisation config.
    """
    depths = (11, 13, 16, 19)
    num_stages = 5

    def __init__(
            self,
            depth: int = 16,
            with_bn: bool = False,
            attention: Optional[str] = None,
            attn_kwargs: Optional[dict] = None,
            attn_stages: Optional[Sequence[int]] = None,
            out_indices: Union[int, Sequence[int]] = (4,),
            frozen_stages: int = -1,
            norm_eval: bool = False,
            timm_kwargs: Optional[dict] = None,
            init_cfg: Optional[Union[dict, list]] = None,
    ) -> None:
        if depth not in self.depths:
            raise ValueError(f'ConvAttnVGG: invalid depth {depth!r}; valid depths: {self.depths}')
        super().__init__(frozen_stages, norm_eval, init_cfg)
        self.depth = depth
        self.with_bn = bool(with_bn)
        self.attention = check_attention(attention)
        self.out_indices = _check_indices(out_indices, self.num_stages, type(self).__name__)
        self.arch = f'vgg{depth}' + ('_bn' if self.with_bn else '')
        timm_kwargs = dict(timm_kwargs or {})
        # timm builds a 7x7-conv MLP of ~100 M parameters that is dropped below: build it 1 wide.
        timm_kwargs.setdefault('mlp_ratio', 1 / 4096)
        model = _create_timm_model(self.arch, self.attention, attn_kwargs, attn_stages, timm_kwargs)
        # Drop timm's 7x7-conv MLP (~100 M parameters) and classifier: the config's neck/head follow.
        model.pre_logits = nn.Identity()
        model.head = nn.Identity()
        self.timm_model = model
        model.is_init = True  # initialised by timm; see ConvAttnResNet
        pools = [i for i, m in enumerate(model.features) if isinstance(m, nn.MaxPool2d)]
        if len(pools) != self.num_stages:
            raise RuntimeError(f'{self.arch}: expected {self.num_stages} max pools in features, found {len(pools)}')
        last = max(self.out_indices)
        model.features = model.features[:pools[last] + 1]
        self._stage_ends = pools[:last + 1]
        # timm's feature_info taps 0-4 sit just before each max pool.
        widths = [model.feature_info[i]['num_chs'] for i in range(self.num_stages)]
        self.out_channels = tuple(widths[i] for i in self.out_indices)
        self.out_strides = tuple(2 ** (i + 1) for i in self.out_indices)
        self._freeze_stages()

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages <= 0:
            return []
        end = self._stage_ends[min(self.frozen_stages, len(self._stage_ends)) - 1]
        return list(self.timm_model.features[:end + 1])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        ends = {e: i for i, e in enumerate(self._stage_ends)}
        for i, layer in enumerate(self.timm_model.features):
            x = layer(x)
            if i in ends and ends[i] in self.out_indices:
                outs.append(x)
        return tuple(outs)
