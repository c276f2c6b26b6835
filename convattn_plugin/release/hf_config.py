"""``config.json`` of a release's timm folder: what timm, transformers and the Hub read.

timm's ``save_for_hf`` writes it; :func:`fix_model_args` then leaves ``num_classes`` at the top
level only (transformers' timm wrapper passes it next to ``model_args``, so a second copy fails
with "got multiple values for keyword argument 'num_classes'"), and :func:`hf_model_config`
adds ``label_names`` (transformers' ``id2label``) and ``requires``, which says what to import.
:func:`timm_config_args` reads folders of either form.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch.nn as nn

from ..atomic_files import atomic_write_text
from .model_pair import ModelPair

__all__ = ['IMPORT_HINT', 'timm_config_args', 'hf_model_args', 'hf_model_config', 'fix_model_args',
           'release_pretrained_cfg']


def timm_config_args(hf_config: Mapping[str, Any]) -> dict[str, Any]:
    """``timm.create_model`` arguments of a ``config.json``: ``model_args`` with ``num_classes``.

    The top-level ``num_classes`` wins; folders written before it left ``model_args`` (which
    transformers passes next to its own ``num_classes``) carry it in both places.
    """
    args = dict(hf_config.get('model_args') or {})
    args['num_classes'] = int(hf_config.get('num_classes', args.get('num_classes', 1000)))
    return args


#: What ``config.json`` says to a reader whose timm does not know the architecture.
IMPORT_HINT = ('pip install convattn_plugin, then `import convattn_plugin` before loading: it registers this '
               'architecture into timm (without it timm says "Unknown model" and transformers "upgrade timm")')


def hf_model_config(pair: ModelPair) -> dict[str, Any]:
    """Extra ``config.json`` fields: ``label_names`` (transformers' ``id2label`` comes from them),
    and ``requires`` with :data:`IMPORT_HINT` (shown by ``print(config)`` in transformers)."""
    config: dict[str, Any] = {'requires': IMPORT_HINT}
    if pair.label_names:
        config['label_names'] = pair.label_names
    return config


def fix_model_args(path: Path) -> None:
    # timm's save_for_hf records num_classes in model_args as well as at the top level;
    # transformers' timm wrapper then passes it twice. One copy, top level, rewritten atomically.
    hf_config = json.loads(path.read_text())
    (hf_config.get('model_args') or {}).pop('num_classes', None)
    atomic_write_text(str(path), json.dumps(hf_config, indent=2))


def hf_model_args(pair: ModelPair) -> dict[str, Any]:
    """``model_args`` for ``config.json``: the create arguments without ``num_classes``.

    ``num_classes`` is a top-level field of ``config.json``; transformers' timm wrapper and
    timm's ``local-dir:`` pass it themselves, and a second copy in ``model_args`` makes
    ``create_model`` fail with "got multiple values for keyword argument 'num_classes'".
    """
    return {k: v for k, v in pair.spec.model_args.items() if k != 'num_classes'}


def release_pretrained_cfg(model: nn.Module) -> None:
    """Drop the untrained model's ``tag`` and "untrained" ``notes`` from ``model.pretrained_cfg``.

    timm's ``save_for_hf`` writes ``pretrained_cfg`` into ``config.json`` and leaves out
    ``None`` values.
    """
    model.pretrained_cfg = dict(model.pretrained_cfg, tag=None, notes=None)
