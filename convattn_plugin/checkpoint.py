"""Reading weight files safely: hash in the file name checked, no arbitrary unpickling.

A published file carries the first hex digits of its sha256 in its name
(``resnet18_cbam_digits-1a2b3c4d.pth``, mmpretrain's and torch.hub's convention);
:func:`load_weights` refuses a file whose content does not match. ``.safetensors``
files are read with safetensors; everything else with ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Optional, Union

import torch

__all__ = ['HashMismatchError', 'sha256_of', 'hash_in_name', 'check_hash_in_name', 'load_weights']

# `<stem>-<8..64 hex digits>.<ext>`: the hex run must be the last dash-separated part.
_HASHED_NAME = re.compile(r'-(?P<digest>[0-9a-f]{8,64})\.(?:pth|pt|bin|safetensors|ckpt)$')


class HashMismatchError(ValueError):
    """A file's sha256 does not start with the digits its name carries."""


def sha256_of(path: Union[str, os.PathLike], chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def hash_in_name(path: Union[str, os.PathLike]) -> Optional[str]:
    """The hex digits a file name carries after its last dash, or ``None``."""
    m = _HASHED_NAME.search(Path(path).name)
    return m['digest'] if m else None


def check_hash_in_name(path: Union[str, os.PathLike]) -> Optional[str]:
    """Verify a hashed file name against the file's content.

    Returns:
        The full sha256 if the name carries a hash (and it matches), else ``None``.

    Raises:
        HashMismatchError: The content's sha256 does not start with the name's digits.
    """
    expected = hash_in_name(path)
    if expected is None:
        return None
    actual = sha256_of(path)
    if not actual.startswith(expected):
        raise HashMismatchError(
            f'{path}: its name says sha256 {expected}..., but the file hashes to {actual[:len(expected)]}...; '
            'the file is corrupt or was changed after publishing. Refusing to load it.')
    return actual


def load_weights(path: Union[str, os.PathLike], map_location: Union[str, torch.device] = 'cpu') -> dict:
    """Load a checkpoint file safely after checking the hash in its name.

    Args:
        path: A ``.safetensors`` file, or a torch file that ``weights_only=True`` can read
            (a state dict, or a dict holding one under ``state_dict`` with ``meta``).
        map_location: Where tensors go.

    Returns:
        What the file holds (for safetensors, the state dict).

    Raises:
        HashMismatchError: See :func:`check_hash_in_name`.
        FileNotFoundError: No such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no checkpoint file at {path}')
    check_hash_in_name(path)
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        return load_file(str(path), device=str(map_location))
    return torch.load(path, map_location=map_location, weights_only=True)
