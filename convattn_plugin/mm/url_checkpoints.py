"""mmengine loads checkpoint URLs safely: download to a file, then ``weights_only=True``.

mmengine 0.10.7 hands ``http(s)://`` checkpoints (``load_checkpoint``, ``load_from``,
``init_cfg=dict(type='Pretrained', checkpoint=url)``, ``mmpretrain.get_model(name,
pretrained=url)``) to ``torch.hub.load_state_dict_from_url``, which unpickles with
``weights_only=False``: a crafted file runs code. Its ``torchvision://``, ``modelzoo://``,
``open-mmlab://`` and ``mmcls://`` schemes resolve to such URLs and call the same loader.

:func:`register_safe_url_loaders` replaces all of them through mmengine's public
``CheckpointLoader.register_scheme(..., force=True)`` with loaders that download with
:func:`convattn_plugin.checkpoint.download_checkpoint` (which only downloads, and checks the
sha256 prefix a file name carries) and load with
:func:`convattn_plugin.checkpoint.load_weights` (``weights_only=True`` with the allow-list
of :mod:`.checkpoint_compat`, or safetensors). Local paths get the same loader, so every
mmengine load (``tools/test.py``'s checkpoint too) checks the hash a file name carries and
names an empty file or a folder clearly. ``import convattn_plugin.mm`` calls it (through
:func:`.checkpoint_compat.allow_mmengine_checkpoints`).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Any, Optional

from ..checkpoint import download_checkpoint, load_weights

__all__ = ['load_url_safely', 'load_local_safely', 'load_named_model_safely', 'register_safe_url_loaders', 'URL_SCHEMES',
           'NAMED_SCHEMES']

URL_SCHEMES = ('http://', 'https://')
# mmengine's named model zoos: prefix -> how the rest of the path is resolved to a URL.
NAMED_SCHEMES = ('torchvision://', 'modelzoo://', 'open-mmlab://', 'openmmlab://', 'mmcls://')


def load_url_safely(filename: str, map_location: Any = None, model_dir: Optional[str] = None,
                    progress: bool = False) -> Any:
    """Download ``filename`` (a URL) once per machine, then load it with ``weights_only=True``.

    In a distributed run, rank 0 downloads first and the others read its file.
    """
    from mmengine.dist import barrier, get_dist_info

    rank, world_size = get_dist_info()
    if world_size > 1:
        if rank == 0:
            download_checkpoint(filename, model_dir, progress)
        barrier()
    return load_weights(filename, map_location=map_location, model_dir=model_dir)


def _named_url(filename: str) -> str:
    from mmengine.runner import checkpoint as ckpt

    prefix = next(p for p in NAMED_SCHEMES if filename.startswith(p))
    name = filename[len(prefix):]
    if prefix in ('torchvision://', 'modelzoo://'):
        urls = ckpt.get_torchvision_models()
    elif prefix == 'mmcls://':
        urls = ckpt.get_mmcls_models()
    else:
        urls = ckpt.get_external_models()
        name = ckpt.get_deprecated_model_names().get(name, name)
    if name not in urls:
        raise KeyError(f'{filename}: no model {name!r} in mmengine\'s {prefix} table')
    return urls[name]


def _mmengine_home() -> str:
    # Where mmengine keeps open-mmlab files (its documented MMENGINE_HOME / XDG_CACHE_HOME rule).
    cache = os.getenv('XDG_CACHE_HOME', osp.join('~', '.cache'))
    return osp.expanduser(os.getenv('MMENGINE_HOME', osp.join(cache, 'mmengine')))


def load_local_safely(filename: str, map_location: Any = None) -> Any:
    """A local path, as mmengine's own loader but with clear errors and the hash in its name checked."""
    return load_weights(osp.expanduser(filename), map_location)


def load_named_model_safely(filename: str, map_location: Any = None) -> Any:
    """``torchvision://`` / ``open-mmlab://`` / ``mmcls://`` names, resolved and loaded as :func:`load_url_safely`."""
    url = _named_url(filename)
    if url.startswith(URL_SCHEMES):
        checkpoint = load_url_safely(url, map_location)
    else:  # open-mmlab entries may name a file under mmengine's home folder
        checkpoint = load_weights(osp.join(_mmengine_home(), url), map_location)
    if filename.startswith('mmcls://'):  # an mmcls classifier's backbone, without the prefix
        state_dict = checkpoint.get('state_dict', checkpoint)
        checkpoint = dict(state_dict={k[len('backbone.'):]: v for k, v in state_dict.items()
                                      if k.startswith('backbone.')})
    return checkpoint


def register_safe_url_loaders() -> None:
    """Make mmengine's ``CheckpointLoader`` use the loaders above (idempotent)."""
    from mmengine.runner import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes='', loader=load_local_safely, force=True)
    CheckpointLoader.register_scheme(prefixes=URL_SCHEMES, loader=load_url_safely, force=True)
    CheckpointLoader.register_scheme(prefixes=NAMED_SCHEMES, loader=load_named_model_safely, force=True)

