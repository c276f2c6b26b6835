"""Refuse a state dict of another architecture, naming every key that does not fit.

``torch.nn.Module.load_state_dict(strict=True)`` stops at the first shape mismatch and
prints tensors; here the whole difference is computed first (into the project's
:class:`~convattn_plugin.models.LoadReport`) and raised as one :class:`ArchitectureMismatchError`
that lists the missing, unexpected and shape-mismatched keys.
"""
from __future__ import annotations

from typing import Mapping

import torch
import torch.nn as nn

from ..models.pretrained import LoadReport, diff_state_dict

__all__ = ['ArchitectureMismatchError', 'diff_state_dict', 'check_state_dict', 'load_state_dict_strict']

# Keys listed per category in the message; the full lists are on the exception's report.
_SHOWN = 25


class ArchitectureMismatchError(ValueError):
    """A state dict does not fit a model: keys missing, unexpected or of another shape.

    Attributes:
        report: The full :class:`~convattn_plugin.models.LoadReport`.
    """

    def __init__(self, message: str, report: LoadReport) -> None:
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
