"""The record every release step shares: one set of weights in both frameworks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch.nn as nn

from .key_mapping import TimmSpec

__all__ = ['ModelPair', 'ATOL']

#: Largest logit difference allowed between the timm and the mmpretrain model.
ATOL = 1e-5


@dataclass
class ModelPair:
    """One set of weights in both frameworks, checked to give the same logits.

    Attributes:
        mm_model: The mmpretrain ``ImageClassifier`` (eval mode; ``_config`` set).
        timm_model: The timm model (eval mode).
        spec: timm name, create arguments and key mapping.
        data_config: timm's preprocessing (``input_size``, ``mean``, ...).
        meta: The mmpretrain checkpoint's ``meta`` (``dataset_meta``, ...).
        max_abs_diff: Largest logit difference found by :func:`check_same_logits`.
    """
    mm_model: nn.Module
    timm_model: nn.Module
    spec: TimmSpec
    data_config: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    max_abs_diff: float = 0.0

    @property
    def label_names(self) -> Optional[list[str]]:
        classes = (self.meta.get('dataset_meta') or {}).get('classes') \
            or (getattr(self.mm_model, '_dataset_meta', None) or {}).get('classes')
        return [str(c) for c in classes] if classes else None
