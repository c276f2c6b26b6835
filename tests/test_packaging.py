"""A regular (non-editable) install: the wheel carries the configs, and the model hub finds them.

The wheel is built from a copy of the sources, installed with ``pip install --target`` and
imported by a child interpreter started with ``-S`` (no ``.pth`` files, so the editable
install of the checkout stays invisible) from a folder outside the checkout.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SOURCES = ('pyproject.toml', 'setup.py', 'MANIFEST.in', 'README.md', 'configs', 'convattn_plugin')


def _config_paths() -> set[str]:
    """Every ``Config:`` of the metafiles, relative to the folder above ``configs/``."""
    index = REPO / 'configs' / 'model-index.yml'
    paths = set()
    for rel in yaml.safe_load(index.read_text())['Import']:
        paths |= {m['Config'] for m in yaml.safe_load((index.parent / rel).read_text())['Models']}
    return paths


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp('src')
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path_factory.mktemp('dist')
    proc = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
                           str(src), '-w', str(dist)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (whl,) = dist.glob('convattn_plugin-*.whl')
    return whl


def test_wheel_ships_every_config_and_the_metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        (metadata,) = [n for n in names if n.endswith('.dist-info/METADATA')]
        meta = z.read(metadata).decode()
    mim = 'convattn_plugin/.mim/'
    assert mim + 'configs/model-index.yml' in names
    missing = {p for p in _config_paths() if mim + p not in names}
    assert not missing, missing
    assert not any('__pycache__' in n for n in names)
    assert 'License-Expression: Apache-2.0' in meta
    assert 'Author: convattn_plugin maintainers' in meta
    assert 'Provides-Extra: mm-base' in meta and "mmcv-lite" in meta


def test_installed_wheel_lists_and_builds_models_through_mmpretrain(wheel, tmp_path):
    pytest.importorskip('mmpretrain')
    site = tmp_path / 'site'
    proc = subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index',
                           '--target', str(site), str(wheel)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code = '\n'.join([
        'import sys',
        'import convattn_plugin.mm, mmpretrain',
        'from convattn_plugin.mm.hub import configs_root',
        'print(convattn_plugin.mm.__file__)',
        'print(configs_root())',
        'print(",".join(sorted(mmpretrain.list_models("*-cbam_*"))))',
        'print(type(mmpretrain.get_model("resnet18-cbam_1xb32_digits").backbone).__name__)',
        'print(any("editable" in type(f).__module__ for f in sys.meta_path))',
    ])
    env = {'PYTHONPATH': f'{site}:{sysconfig.get_paths()["purelib"]}', 'OMP_NUM_THREADS': '1',
           'MKL_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin', 'HOME': str(tmp_path)}
    proc = subprocess.run([sys.executable, '-S', '-c', code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    module_file, root, cbam, backbone, editable = proc.stdout.splitlines()
    assert Path(module_file).is_relative_to(site)
    assert Path(root) == site / 'convattn_plugin' / '.mim' / 'configs'
    expected = sorted(Path(p).stem for p in _config_paths() if '-cbam_' in p)
    assert cbam.split(',') == expected
    assert backbone == 'ConvAttnResNet'
    assert editable == 'False'
