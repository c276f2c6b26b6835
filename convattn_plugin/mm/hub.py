"""Make mmpretrain's model hub find the project's configs.

After :func:`register_model_index`, ``mmpretrain.list_models('*cbam*')``,
``mmpretrain.get_model('resnet18-cbam_1xb32_digits')`` and
``ImageClassificationInferencer('resnet18-cbam_1xb32_digits')`` work. The index is
``configs/model-index.yml``; its metafiles name configs relative to the folder that
holds ``configs/``. Registering again does nothing (mmpretrain's ``ModelHub`` raises on
a second registration of a name, so it is guarded here). Only ``ModelHub``'s public
class methods are used (``register_model_index``, ``has``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

__all__ = ['configs_root', 'model_index_path', 'register_model_index']

_registered: set[str] = set()


def configs_root() -> Optional[Path]:
    """The ``configs/`` folder: ``$CONVATTN_CONFIGS``, else the one a wheel ships in the
    package (``convattn_plugin/.mim/configs``, mmpretrain's convention; copied there by
    ``setup.py`` at build time), else the source checkout's (an editable install);
    ``None`` if absent."""
    candidates = []
    if os.environ.get('CONVATTN_CONFIGS'):
        candidates.append(Path(os.environ['CONVATTN_CONFIGS']))
    pkg = Path(__file__).resolve().parents[1]
    candidates.append(pkg / '.mim' / 'configs')
    if (pkg.parent / 'pyproject.toml').is_file():  # a checkout, not some site-packages/configs
        candidates.append(pkg.parent / 'configs')
    for c in candidates:
        if (c / 'model-index.yml').is_file():
            return c
    return None


def model_index_path() -> Optional[Path]:
    root = configs_root()
    return None if root is None else root / 'model-index.yml'


def register_model_index(path: Optional[os.PathLike] = None) -> list[str]:
    """Register the model index into mmpretrain's ``ModelHub`` once; return the new names.

    Args:
        path: A ``model-index.yml``; defaults to :func:`model_index_path`.
    """
    from mmpretrain.apis import ModelHub
    from modelindex.load_model_index import load

    path = Path(path) if path is not None else model_index_path()
    if path is None:
        return []  # installed without configs: nothing to register
    key = str(path.resolve())
    if key in _registered:
        return []
    index = load(str(path))
    index.build_models_with_collections()
    names = [m.name.lower() for m in index.models]
    clash = [n for n in names if ModelHub.has(n)]
    if clash and all(ModelHub.has(n) for n in names):
        _registered.add(key)  # registered before, e.g. by a reloaded copy of this module
        return []
    if clash:
        raise ValueError(f'model names already in mmpretrain ModelHub: {clash}')
    # Config paths in the metafiles are relative to the folder above configs/.
    ModelHub.register_model_index(path, config_prefix=path.parent.parent)
    _registered.add(key)
    return names
