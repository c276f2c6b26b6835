"""Whether a state dict fits a model, and starting an attention model from a plain backbone's weights.

The one place for "these weights do not fit this model": :func:`diff_state_dict` computes the
whole difference (a :class:`LoadReport`), :class:`ArchitectureMismatchError` carries it, raised
by :func:`check_state_dict` / :func:`load_state_dict_strict` (exact fit: releases, the authors'
tags) and by :func:`load_backbone_weights` (a plain backbone, the attention fresh).

A ``resnet50`` / ``vgg16`` checkpoint, in timm's or torchvision's layout, loads into
``resnet50_cbam`` / ``vgg16_localattn`` (or any model changed by :func:`add_attention`)
with one call. Every backbone weight is used; only the attention stays freshly
initialised. This is the fine-tuning workflow the project's design follows: load, freeze
the lower stages, train the upper stages and the attention::

    model = timm.create_model('vgg16_localattn', num_classes=10)
    report = load_backbone_weights(model, 'vgg16.pth')  # torchvision's file as it is
    print(report)                                        # exactly which keys stayed fresh
    lower = tuple(f'features.{i}.' for i in range(17))   # vgg16 stages 0..2
    for name, p in model.named_parameters():             # train upper stages + all attention
        p.requires_grad_(not name.startswith(lower) or name in report.attention_keys)
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Mapping, Union

import torch
import torch.nn as nn
from timm.models import clean_state_dict
from timm.models.vgg import VGG

from ..checkpoint import check_finite, load_weights
from .attention_factory import attention_types
from .vgg_head import torchvision_vgg_to_timm

__all__ = ['ArchitectureMismatchError', 'LoadReport', 'check_state_dict', 'diff_state_dict', 'load_backbone_weights',
           'load_state_dict_strict', 'state_dict_of']

_logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What :func:`load_backbone_weights` did with each key.

    Attributes:
        loaded: Model keys set from the checkpoint.
        missing_keys: Model keys the checkpoint does not have; left as initialised.
            After a plain backbone, exactly the attention keys.
        unexpected_keys: Checkpoint keys the model does not have (e.g. the classifier of a
            ``num_classes=0`` model); not used.
        mismatched_keys: Keys in both with different shapes (a classifier with another
            ``num_classes``); left as initialised.
        attention_keys: The model's attention keys.
    """
    loaded: list[str] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    mismatched_keys: list[str] = field(default_factory=list)
    attention_keys: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        of_attention = (f' ({len(set(self.missing_keys) & set(self.attention_keys))} of them attention)'
                        if self.attention_keys else '')
        lines = [f'loaded {len(self.loaded)} keys; {len(self.missing_keys)} missing{of_attention}, '
                 f'{len(self.unexpected_keys)} unexpected, {len(self.mismatched_keys)} shape-mismatched']
        for title, keys in (('missing', self.missing_keys), ('unexpected', self.unexpected_keys),
                            ('shape-mismatched', self.mismatched_keys)):
            lines += [f'  {title}: {k}' for k in keys]
        return '\n'.join(lines)


def diff_state_dict(reference: Mapping[str, torch.Tensor], state_dict: Mapping[str, torch.Tensor]) -> LoadReport:
    """Compare ``state_dict`` with the ``reference`` one (a model's), key by key.

    Returns:
        A :class:`LoadReport`: ``loaded`` (same key and shape),
        ``missing_keys`` (only in ``reference``), ``unexpected_keys`` (only in
        ``state_dict``) and ``mismatched_keys`` (in both, another shape).
    """
    report = LoadReport()
    for k, v in state_dict.items():
        if k not in reference:
            report.unexpected_keys.append(k)
        elif tuple(v.shape) != tuple(reference[k].shape):
            report.mismatched_keys.append(k)
        else:
            report.loaded.append(k)
    report.missing_keys = sorted(set(reference) - set(state_dict))
    report.loaded.sort()
    report.unexpected_keys.sort()
    report.mismatched_keys.sort()
    return report


# Keys listed per category in the message; the full lists are on the exception's report.
_SHOWN = 25


class ArchitectureMismatchError(ValueError):
    """A state dict does not fit a model: keys missing, unexpected or of another shape.

    Attributes:
        report: The full :class:`~convattn_plugin.models.LoadReport`.
    """

    def __init__(self, message: str, report: 'LoadReport') -> None:
        super().__init__(message)
        self.report = report


def _listing(title: str, lines: list[str]) -> list[str]:
    out = [f'  {title}: {line}' for line in lines[:_SHOWN]]
    if len(lines) > _SHOWN:
        out.append(f'  ... and {len(lines) - _SHOWN} more {title} keys (all of them: the error\'s .report)')
    return out


def check_state_dict(reference: Mapping[str, torch.Tensor], state_dict: Mapping[str, torch.Tensor],
                     what: str = 'the checkpoint', target: str = 'the model') -> LoadReport:
    """Raise unless ``state_dict`` has exactly the keys and shapes of ``reference``.

    Args:
        reference: The target model's state dict.
        state_dict: The weights to load.
        what: Names the weights in the message (a file name).
        target: Names the model in the message (an architecture).

    Returns:
        The report (everything loaded) when they fit.

    Raises:
        ArchitectureMismatchError: Listing the missing, unexpected and shape-mismatched keys.
    """
    report = diff_state_dict(reference, state_dict)
    if report.missing_keys or report.unexpected_keys or report.mismatched_keys:
        shapes = [f'{k}: {tuple(state_dict[k].shape)} in the checkpoint, {tuple(reference[k].shape)} in the model'
                  for k in report.mismatched_keys]
        lines = [f'{what} does not fit {target}: it holds weights of another architecture '
                 f'({len(report.missing_keys)} missing, {len(report.unexpected_keys)} unexpected, '
                 f'{len(report.mismatched_keys)} shape-mismatched keys; {len(report.loaded)} fit)']
        lines += _listing('missing', report.missing_keys)
        lines += _listing('unexpected', report.unexpected_keys)
        lines += _listing('shape-mismatched', shapes)
        raise ArchitectureMismatchError('\n'.join(lines), report)
    return report


def load_state_dict_strict(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                           what: str = 'the checkpoint', target: str | None = None) -> None:
    """:func:`check_state_dict` against ``model``, then load every tensor into it."""
    check_state_dict(model.state_dict(), state_dict, what, target or type(model).__name__)
    model.load_state_dict(state_dict, strict=True)


def state_dict_of(checkpoint: Mapping[str, object], what: str) -> dict[str, torch.Tensor]:
    """The weights of a loaded checkpoint, picked as timm's ``load_state_dict`` picks them.

    timm's function takes a path and reads the file itself; here the file has already been read
    by :func:`convattn_plugin.checkpoint.load_weights`, so its choice is repeated on the dict:
    ``state_dict_ema``, ``model_ema``, ``state_dict``, ``model``, else the dict itself; then
    timm's ``clean_state_dict`` removes ``module.`` / ``_orig_mod.`` prefixes.
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError(f'{what}: holds a {type(checkpoint).__name__}, not a state dict')
    for key in ('state_dict_ema', 'model_ema', 'state_dict', 'model'):
        if isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
            break
    bad = sorted(str(k) for k, v in checkpoint.items() if not isinstance(v, torch.Tensor))
    if bad:
        raise ValueError(f'{what}: entries {bad[:10]} are not tensors; expected a state dict, or a checkpoint '
                         "with one under 'state_dict' / 'model' (or timm's EMA entries)")
    return clean_state_dict(dict(checkpoint))


def _keys_under(model: nn.Module, modules: list[nn.Module]) -> set[str]:
    """State-dict keys of the given submodules of ``model``."""
    prefixes = [n for n, m in model.named_modules() if any(m is t for t in modules)]
    return {k for k in model.state_dict() if any(k.startswith(p + '.') for p in prefixes)}


def _convert_layout(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map other layouts onto the model's keys."""
    if isinstance(model, VGG):
        # torchvision's classifier.{0,3,6} Linear layers -> timm's pre_logits convs and head.fc.
        state_dict = torchvision_vgg_to_timm(state_dict)
    model_keys = model.state_dict().keys()
    if isinstance(model, nn.ModuleDict) and hasattr(model, 'return_layers'):
        # timm's features_only wrappers may flatten `features.0.weight` to `features_0.weight`.
        def flat(k: str) -> str:
            f = k.replace('.', '_', 1)
            return f if k not in model_keys and f in model_keys else k
        state_dict = {flat(k): v for k, v in state_dict.items()}
    return state_dict


def load_backbone_weights(
        model: nn.Module,
        checkpoint: Union[str, os.PathLike, Mapping[str, torch.Tensor]],
        strict: bool = True,
) -> LoadReport:
    """Load a plain backbone's weights into an attention model; report every key.

    Files are read by :func:`convattn_plugin.checkpoint.load_weights` (``weights_only=True`` or
    safetensors; an empty file, a folder, a compressed torch archive, a hash in the name that
    the content does not match and NaN / inf weights are refused, each with a message naming the
    file); a wrapping ``state_dict`` / ``model`` entry and ``module.`` prefixes are removed as
    timm's ``load_state_dict`` removes them. torchvision's VGG classifier layout is converted.

    Args:
        model: A ``{backbone}_{kind}`` model, a model changed by ``add_attention``, or
            their ``features_only`` versions.
        checkpoint: A ``.pth`` / ``.safetensors`` path (or ``http(s)://`` URL), or a state dict.
        strict: Raise if a model key other than an attention key is missing, or a key
            other than the classifier's has another shape; the backbone must be complete.

    Returns:
        The :class:`LoadReport` (also logged at INFO level).

    Raises:
        ArchitectureMismatchError: With ``strict``, when the checkpoint does not cover the
            backbone (the full report on the error's ``.report``).
        ValueError: A file
            or state dict that is not weights, or holds NaN / inf
            (:class:`~convattn_plugin.checkpoint.NonFiniteWeightsError`).
        FileNotFoundError, IsADirectoryError: No file at the path, or a folder.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        state_dict = state_dict_of(load_weights(checkpoint), str(checkpoint))
    else:
        state_dict = state_dict_of(checkpoint, 'the state dict')
        check_finite(state_dict, 'the state dict')
    state_dict = _convert_layout(model, state_dict)

    own = model.state_dict()
    attention = _keys_under(model, [m for m in model.modules() if isinstance(m, attention_types())])
    get_classifier = getattr(model, 'get_classifier', None)
    classifier = _keys_under(model, [get_classifier()]) if get_classifier is not None else set()

    report = diff_state_dict(own, state_dict)
    report.attention_keys = sorted(attention)

    if strict:
        backbone_missing = sorted(set(report.missing_keys) - attention)
        backbone_mismatched = sorted(set(report.mismatched_keys) - classifier)
        if backbone_missing or backbone_mismatched:
            raise ArchitectureMismatchError(
                'the checkpoint does not cover the backbone of this model: '
                f'{len(backbone_missing)} missing ({", ".join(backbone_missing[:5])}'
                f'{", ..." if len(backbone_missing) > 5 else ""}), '
                f'{len(backbone_mismatched)} with another shape ({", ".join(backbone_mismatched[:5])}'
                f'{", ..." if len(backbone_mismatched) > 5 else ""}); is it the same backbone?', report)
    model.load_state_dict({k: state_dict[k] for k in report.loaded}, strict=False)
    _logger.info('load_backbone_weights: %s', report)
    return report
