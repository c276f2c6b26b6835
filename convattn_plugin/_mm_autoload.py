"""Register the OpenMMLab side when, and only if, mmpretrain is imported.

``import convattn_plugin`` must not pay for mmengine / mmpretrain (0.2-0.5 s more) when a
user only wants the timm models, yet ``mmpretrain.list_models('*cbam*')`` must find the
project's configs after it. :func:`install` imports :mod:`convattn_plugin.mm` at once if
mmpretrain is already imported, and otherwise right after ``import mmpretrain`` finishes,
through a one-shot import hook on ``sys.meta_path``.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__all__ = ['install']

_TRIGGER = 'mmpretrain'


def _register() -> None:
    try:
        importlib.import_module('convattn_plugin.mm')
    except Exception as e:  # never break `import mmpretrain` itself
        warnings.warn(f'convattn_plugin: could not register into mmpretrain ({type(e).__name__}: {e})')


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs :func:`_register` after the trigger module has executed."""

    def find_spec(self, name, path=None, target=None):
        if name != _TRIGGER:
            return None
        sys.meta_path.remove(self)  # one shot; also keeps the lookup below from recursing
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, 'exec_module'):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _register()

        spec.loader.exec_module = exec_then_register  # the loader keeps its type (resources work)
        return spec


def install() -> None:
    """Register now if mmpretrain is imported, else when it is (idempotent)."""
    if _TRIGGER in sys.modules:
        _register()
    elif importlib.util.find_spec(_TRIGGER) is not None and \
            not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
