"""Let ``torch.load(..., weights_only=True)`` read mmengine 0.10.7 training checkpoints.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``. A full training
checkpoint written by mmengine's ``CheckpointHook`` holds the ``message_hub`` state, whose
``HistoryBuffer`` objects pickle numpy arrays and ``getattr(HistoryBuffer, 'min')`` (and
``max``, ``current``, ``mean``). Without the globals below, ``--resume``, ``load_from``,
``init_cfg=dict(type='Pretrained')`` and mmpretrain's ``tools/test.py`` all fail with
``Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer``.

:func:`allow_mmengine_checkpoints` allow-lists exactly what such a checkpoint needs:
``HistoryBuffer``, numpy's array and scalar reconstructors, ``numpy.ndarray``,
``numpy.dtype`` and the numeric dtype classes. ``builtins.getattr`` is *not* allowed:
the name is bound to :func:`history_buffer_getattr`, which only returns the four
statistics methods of ``HistoryBuffer`` and refuses everything else. Allowing the real
``getattr`` would let a crafted file reach any attribute of any allowed object.
``weights_only=False`` is not used anywhere.

It also registers :mod:`.url_checkpoints` into mmengine's ``CheckpointLoader``, so that
``http(s)://`` checkpoints are downloaded and loaded with ``weights_only=True`` too.
"""
from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import torch

__all__ = ['HISTORY_BUFFER_STATISTICS', 'history_buffer_getattr', 'mmengine_checkpoint_globals',
           'allow_mmengine_checkpoints']

#: The statistics methods ``HistoryBuffer`` registers by default and pickles by name.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')

_applied = False


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling a checkpoint.

    Returns ``getattr(HistoryBuffer, name)`` for the four default statistics and raises
    ``pickle.UnpicklingError`` for any other object or attribute.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    if obj is HistoryBuffer and isinstance(name, str) and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'weights_only load refused getattr({obj!r}, {name!r}): convattn_plugin only allows '
        f'getattr(HistoryBuffer, name) for name in {HISTORY_BUFFER_STATISTICS}')


def _numpy_dtype_classes() -> list[type]:
    # The classes of the dtypes a HistoryBuffer or a logged scalar can hold.
    names = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64',
             'float16', 'float32', 'float64')
    return [type(np.dtype(n)) for n in names]


def mmengine_checkpoint_globals() -> list:
    """The globals (and ``(global, name)`` pairs) that an mmengine checkpoint needs."""
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    items: list = [
        HistoryBuffer,
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *_numpy_dtype_classes(),
        (history_buffer_getattr, 'builtins.getattr'),
    ]
    # Checkpoints written under numpy 1.x name the reconstructors `numpy.core.multiarray.*`.
    items += [(multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
              (multiarray.scalar, 'numpy.core.multiarray.scalar')]
    return items


def allow_mmengine_checkpoints() -> None:
    """Allow-list :func:`mmengine_checkpoint_globals` for ``weights_only`` loads and make mmengine
    load URLs safely (:func:`.url_checkpoints.register_safe_url_loaders`); idempotent."""
    global _applied
    from .url_checkpoints import register_safe_url_loaders

    register_safe_url_loaders()
    if _applied:
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    _applied = True
