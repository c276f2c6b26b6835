"""Locate, load and run mmpretrain's packaged command-line tools (``mmpretrain/.mim/tools``).

The project's ``tools/train.py`` and ``tools/test.py`` reuse their ``parse_args`` and
``merge_args``, so they accept exactly mmpretrain's options. :func:`run_mmpretrain_tool`
(``python -m convattn_plugin.mm TOOL ...``) runs any of them after ``import
convattn_plugin.mm``: tools that read no config, and so never see its ``custom_imports``
(``model_converters/publish_model.py``), then load the project's training checkpoints. A
``.json`` config given to a tool is read as a release config
(:func:`release_configs_in_argv`): data in the schema, nothing imported or executed.
"""
from __future__ import annotations

import importlib.util
import json
import os
import runpy
import sys
import tempfile
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Sequence, Union

from ..atomic_files import atomic_write_text
from .config_schema import UnsafeReleaseError, read_config

PathLike = Union[str, os.PathLike]

__all__ = ['mmpretrain_tool_path', 'load_mmpretrain_tool', 'run_mmpretrain_tool', 'list_mmpretrain_tools',
           'release_configs_in_argv']


def _tools_dir() -> Path:
    spec = importlib.util.find_spec('mmpretrain')
    if spec is None or spec.origin is None:
        raise ImportError('mmpretrain is not installed: pip install "convattn_plugin[mm]"')
    return Path(spec.origin).parent / '.mim' / 'tools'


def mmpretrain_tool_path(name: str) -> Path:
    """Path of mmpretrain's ``tools/{name}.py``.

    Args:
        name: Relative to mmpretrain's ``tools/``, with or without ``.py``: ``'train'``,
            ``'test'``, ``'analysis_tools/get_flops'``, ``'model_converters/publish_model.py'``.
    """
    rel = PurePosixPath(name[:-3] if name.endswith('.py') else name)
    if rel.is_absolute() or '..' in rel.parts or not rel.parts:
        raise ValueError(f'mmpretrain tool name must be a path inside mmpretrain\'s tools/ folder, '
                         f'e.g. "analysis_tools/get_flops"; got {name!r}')
    path = _tools_dir() / rel.with_suffix('.py')
    if not path.is_file():
        raise FileNotFoundError(f'{path} not found: no such packaged mmpretrain tool (known: '
                                f'{", ".join(list_mmpretrain_tools())})')
    return path


def list_mmpretrain_tools() -> list[str]:
    """Names of mmpretrain's packaged Python tools, like ``'analysis_tools/get_flops'``."""
    root = _tools_dir()
    return sorted(p.relative_to(root).with_suffix('').as_posix() for p in root.rglob('*.py')
                  if '__pycache__' not in p.parts)


def load_mmpretrain_tool(name: str) -> ModuleType:
    """mmpretrain's ``tools/{name}.py`` as a module (its ``main()`` is not run)."""
    path = mmpretrain_tool_path(name)
    spec = importlib.util.spec_from_file_location(f'mmpretrain_tools_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def release_configs_in_argv(argv: Sequence[str], folder: PathLike) -> list[str]:
    """``argv`` with every existing ``.json`` file replaced by its release config, checked.

    mmpretrain's tools read a config with ``Config.fromfile``, which would follow a JSON
    config's ``_base_`` and import its ``custom_imports``. So every argument that names an
    existing ``.json`` file is read as a release config (:func:`.config_schema.read_config`:
    the closed schema, nothing imported) and the tool is given a copy written into ``folder``
    from the checked data alone; anything outside the schema stops the run before the tool
    starts. An output path that does not exist yet is passed through untouched.

    Raises:
        UnsafeReleaseError: An existing ``.json`` argument is not a release config.
    """
    out = []
    for i, arg in enumerate(argv):
        if arg.endswith('.json') and Path(arg).is_file():
            try:
                data = read_config(arg).to_dict()
            except UnsafeReleaseError as e:
                raise UnsafeReleaseError(f'{e} (python -m convattn_plugin.mm reads every existing .json argument as '
                                         'a release config; give other JSON files to the tool without this wrapper)')
            arg = str(Path(folder) / f'{i}_{Path(arg).name}')
            atomic_write_text(arg, json.dumps(data))
        out.append(arg)
    return out


def run_mmpretrain_tool(name: str, argv: Sequence[str]) -> None:
    """Run mmpretrain's ``tools/{name}.py`` as a script with arguments ``argv``.

    The caller has imported :mod:`convattn_plugin.mm` (``python -m convattn_plugin.mm``
    does), so the tool finds the project's registrations and loads its checkpoints. A
    ``.json`` config is read as a release config (:func:`release_configs_in_argv`).
    """
    path = mmpretrain_tool_path(name)
    saved = sys.argv
    with tempfile.TemporaryDirectory(prefix='convattn_release_configs_') as folder:
        sys.argv = [str(path), *release_configs_in_argv(argv, folder)]
        try:
            runpy.run_path(str(path), run_name='__main__')
        finally:
            sys.argv = saved
