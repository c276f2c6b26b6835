"""mmpretrain's own argument parser for ``train.py`` / ``test.py``, without the tool's imports.

Loading mmpretrain's whole tool imports torch, mmengine's runner and (through this package)
timm: seconds before ``--help`` or an argument error could answer. Its ``parse_args`` needs
only ``argparse``, ``os`` and mmengine's ``DictAction`` (which does not import torch), so it
is compiled alone from the installed tool's own source: the options stay exactly
mmpretrain's, and ``--help`` answers at once. The rest of the tool (``merge_args``) is
loaded afterwards by ``convattn_plugin.mm.mmpretrain_tools.load_mmpretrain_tool``.
"""
import argparse
import ast
import builtins
import importlib.util
import os
from pathlib import Path


def mmpretrain_parse_args(tool: str) -> argparse.Namespace:
    """Parse ``sys.argv`` with the ``parse_args()`` of mmpretrain's ``tools/{tool}.py``."""
    spec = importlib.util.find_spec('mmpretrain')  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise SystemExit('mmpretrain is not installed: pip install "convattn_plugin[mm]"')
    path = Path(spec.origin).parent / '.mim' / 'tools' / f'{tool}.py'
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'parse_args']
    from mmengine.config import DictAction

    namespace = {'argparse': argparse, 'os': os, 'DictAction': DictAction}
    used = {n.id for fn in found for n in ast.walk(fn) if isinstance(n, ast.Name)}
    missing = used - set(namespace) - set(dir(builtins)) - {'parser', 'args'}
    if len(found) != 1 or missing:
        raise RuntimeError(f'{path}: expected one parse_args() that needs only argparse, os and DictAction '
                           f'(this mmpretrain needs {sorted(missing)}); please report your mmpretrain version')
    exec(compile(ast.Module(body=found, type_ignores=[]), str(path), 'exec'), namespace)  # mmpretrain's own code
    return namespace['parse_args']()
