"""mmpretrain checkpoints in and out of a release: read safely, strip to plain data, save hashed.

Reading is :func:`convattn_plugin.checkpoint.load_weights` (``weights_only=True`` or
safetensors, URLs downloaded first, the hash a name carries verified) plus a refusal of
NaN / inf weights. Writing keeps ``state_dict`` and ``meta`` only, ``meta`` reduced to plain
Python values, so the file loads with ``weights_only=True`` and no allow-list, under
mmpretrain's name ``<stem>_<YYYYMMDD>-<sha256[:8]>.pth``.
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch

from ..atomic_files import atomic_write_named
from ..checkpoint import check_finite, is_url, load_weights, sha256_of

__all__ = ['read_checkpoint', 'extract_state_dict', 'sanitize_meta', 'save_mm_checkpoint']

PathLike = Union[str, os.PathLike]


def sanitize_meta(meta: Any, where: str = 'meta', dropped: Optional[list[str]] = None) -> Any:
    """``meta`` as plain Python values that ``torch.load(weights_only=True)`` reads without an allow-list.

    numpy scalars and arrays become numbers and lists, tensors lists, mappings dicts; any other
    object (a ``HistoryBuffer``, a class) is dropped, its path appended to ``dropped``.
    """
    import numpy as np

    if meta is None or type(meta) in (bool, int, float, str):
        return meta
    if isinstance(meta, np.generic):  # before the builtins: np.float64 is a float, np.str_ a str
        return meta.item()
    for plain in (bool, int, float, str):  # subclasses (IntEnum, ...) pickle as their own class
        if isinstance(meta, plain):
            return plain(meta)
    if isinstance(meta, (np.ndarray, torch.Tensor)):
        return meta.tolist()
    if isinstance(meta, Mapping):
        out = {}
        for k, v in meta.items():
            clean = sanitize_meta(v, f'{where}.{k}', dropped)
            if clean is not _DROPPED:
                out[str(k)] = clean
        return out
    if isinstance(meta, (list, tuple)):
        items = [sanitize_meta(v, f'{where}[{i}]', dropped) for i, v in enumerate(meta)]
        return type(meta)(v for v in items if v is not _DROPPED) if type(meta) in (list, tuple) else \
            [v for v in items if v is not _DROPPED]
    if dropped is not None:
        dropped.append(f'{where} ({type(meta).__name__})')
    return _DROPPED


_DROPPED = object()


def read_checkpoint(path: PathLike) -> dict[str, Any]:
    """Read an mmpretrain checkpoint safely: a local file or an ``http(s)://`` URL.

    :func:`convattn_plugin.checkpoint.load_weights` reads it (a URL is downloaded first;
    the hash a name carries is verified; ``torch.load(weights_only=True)`` with the allow-list
    of :mod:`convattn_plugin.mm`, or safetensors). Other schemes (``s3://``, ...) go through
    mmengine's ``CheckpointLoader``, whose ``torch.load`` is ``weights_only=True`` too.

    Returns:
        A dict with ``state_dict`` (a bare state dict is wrapped in one).

    Raises:
        HashMismatchError: The file's content does not match the hash in its name.
        UnsafeCheckpointError: The file holds more than weights.
        NonFiniteWeightsError: NaN or inf in the weights (listed by key).
    """
    from mmengine.runner import CheckpointLoader

    if is_url(path) or '://' not in str(path):
        obj = load_weights(path)
    else:
        obj = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    if not isinstance(obj, dict):
        raise ValueError(f'{path}: not a checkpoint (a {type(obj).__name__})')
    if 'state_dict' not in obj:
        if not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise ValueError(f'{path}: no state_dict in the checkpoint (keys: {sorted(obj)[:10]})')
        obj = dict(state_dict=obj)
    check_finite(obj['state_dict'], str(path))
    return obj


def extract_state_dict(checkpoint: Mapping[str, Any], use_ema: bool = True) -> dict[str, torch.Tensor]:
    """The weights to publish from an mmengine checkpoint.

    mmengine's ``EMAHook`` saves the averaged weights as ``state_dict`` and the raw ones in
    ``ema_state_dict`` (``module.``-prefixed), as mmpretrain's publish tool reads them.

    Args:
        checkpoint: From :func:`read_checkpoint`.
        use_ema: Keep the averaged weights (mmpretrain's default); ``False``: the raw ones.
    """
    state_dict = dict(checkpoint['state_dict'])
    ema = checkpoint.get('ema_state_dict')
    if ema and not use_ema:
        state_dict.update({k[len('module.'):]: v for k, v in ema.items() if k.startswith('module.')})
    return state_dict


def save_mm_checkpoint(checkpoint: Mapping[str, Any], out_dir: PathLike, stem: str,
                       date: Optional[str] = None) -> Path:
    """``torch.save`` a checkpoint as ``<stem>_<YYYYMMDD>-<sha256[:8]>.pth`` (mmpretrain's name).

    The hash is of the saved bytes, so :func:`convattn_plugin.checkpoint.load_weights` can
    verify the file later. The file is written under a temporary name and renamed.
    """
    date = date or datetime.datetime.now().strftime('%Y%m%d')
    return atomic_write_named(out_dir, lambda tmp: torch.save(dict(checkpoint), tmp),
                              lambda tmp: f'{stem}_{date}-{sha256_of(tmp)[:8]}.pth', stem=stem)
