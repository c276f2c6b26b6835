"""The OpenMMLab detection / segmentation route: mmdet 3.3.0 and mmsegmentation 1.2.2.

These tests run under their own marker (``pytest -m mmdet tests/mmdet_mmseg``) in their own venv:
mmdet and mmseg need the full, compiled ``mmcv`` 2.1 (its ``mmcv.ops``), which PyPI has only as
source and which is built against one torch; the main venv has ``mmcv-lite`` instead. Set that
venv up with ``tools/install_mmdet.sh``. Where mmdet or mmseg are not importable, every test here
is skipped with the reason (the modules import them only inside their tests and fixtures).
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PACKAGED = REPO / 'tests' / 'data' / 'packaged'  # vendored copies of the real images
SETUP = 'bash tools/install_mmdet.sh (a venv with mmdet 3.3.0, mmsegmentation 1.2.2, a compiled mmcv 2.1.0)'


def _missing() -> str | None:
    """Why the stack cannot be imported, or ``None`` when it can."""
    try:
        import mmdet.models  # noqa: F401
        import mmseg.models  # noqa: F401
        from mmcv.ops import nms  # noqa: F401  (the compiled ops)

        import convattn_plugin.mm  # noqa: F401
    except Exception as e:  # ImportError, or mmdet's AssertionError on an mmcv out of its range
        return f'mmdet / mmseg not importable ({type(e).__name__}: {str(e).splitlines()[0][:160]}); set up with: {SETUP}'
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    mine = [item for item in items if HERE in Path(str(item.fspath)).resolve().parents]
    if not mine:
        return
    reason = _missing()
    for item in mine:
        item.add_marker(pytest.mark.mmdet)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def tool(package: str, name: str) -> Path:
    """A tool packaged in ``package``'s wheel (``site-packages/{package}/.mim/tools/{name}``)."""
    import importlib

    path = Path(importlib.import_module(package).__file__).parent / '.mim' / 'tools' / name
    assert path.is_file(), f'{package} ships no {name} at {path}'
    return path


def child_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([str(REPO), env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    return env


def run_tool(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *map(str, cmd)], env=child_env(), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{cmd} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def data_options(kind: str, root: Path) -> dict[str, str]:
    """``--cfg-options`` that point a tiny config at the data written under ``root``."""
    opts = {f'{loader}.dataset.data_root': f'{root}/' for loader in ('train_dataloader', 'val_dataloader',
                                                                     'test_dataloader')}
    if kind == 'det':
        opts.update({f'{ev}.ann_file': f'{root}/annotations/val.json' for ev in ('val_evaluator', 'test_evaluator')})
    return opts


def cfg_options(opts: dict) -> list[str]:
    return ['--cfg-options', *(f'{k}={v}' for k, v in opts.items())]


@pytest.fixture(scope='session')
def trees_root(tmp_path_factory) -> Path:
    """A COCO-style tree data set from the vendored OSBS_029 image: 6 training, 3 test tiles of 128 px."""
    from convattn_plugin.mm.dense_datasets import write_coco_trees

    root = tmp_path_factory.mktemp('trees_coco')
    write_coco_trees(PACKAGED, root, images={'train': ['OSBS_029'], 'val': ['OSBS_029']},
                     columns={'train': (0, 0.68), 'val': (0.68, 1)}, tile=128, scale=1.0, overwrite=True)
    return root


@pytest.fixture(scope='session')
def nuclei_root(tmp_path_factory) -> Path:
    """The mmseg folder data set of the vendored nuclei image (1 training image, 16 test tiles)."""
    from convattn_plugin.mm.dense_datasets import write_seg_nuclei

    root = tmp_path_factory.mktemp('nuclei_seg')
    write_seg_nuclei(PACKAGED, root, overwrite=True)
    return root


@pytest.fixture(scope='module', autouse=True)
def _one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def kit() -> SimpleNamespace:
    return SimpleNamespace(REPO=REPO, PACKAGED=PACKAGED, tool=tool, run_tool=run_tool, data_options=data_options,
                           cfg_options=cfg_options, uid=lambda: uuid.uuid4().hex[:8])
