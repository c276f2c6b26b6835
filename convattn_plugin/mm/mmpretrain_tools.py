"""Locate and load mmpretrain's packaged command-line tools (``mmpretrain/.mim/tools``).

The project's ``tools/train.py`` and ``tools/test.py`` reuse their ``parse_args`` and
``merge_args``, so they accept exactly mmpretrain's options.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

__all__ = ['mmpretrain_tool_path', 'load_mmpretrain_tool']


def mmpretrain_tool_path(name: str) -> Path:
    """Path of mmpretrain's ``tools/{name}.py`` (``name`` like ``'train'`` or ``'test'``)."""
    spec = importlib.util.find_spec('mmpretrain')
    if spec is None or spec.origin is None:
        raise ImportError('mmpretrain is not installed: pip install "convattn_plugin[mm]"')
    path = Path(spec.origin).parent / '.mim' / 'tools' / f'{name}.py'
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found: this mmpretrain install has no packaged tools '
                                '(install it from PyPI, or use a source checkout\'s tools/)')
    return path


def load_mmpretrain_tool(name: str) -> ModuleType:
    """mmpretrain's ``tools/{name}.py`` as a module (its ``main()`` is not run)."""
    path = mmpretrain_tool_path(name)
    spec = importlib.util.spec_from_file_location(f'mmpretrain_tools_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
