"""One writer for every folder of release files (``convattn_plugin.release.staging``): the output
folder is checked before any work, written whole, and an old release is replaced by renames only,
so a kill leaves a whole release; names from the command line stay inside the folder.

Covers ``convert_published`` (``tools/convert_published.py``), ``tools/convert.py`` and the writer
itself; ``tests/test_release_safety.py`` covers ``publish``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from convattn_plugin.release import staging

REPO = Path(__file__).resolve().parents[1]
TAG = 'resnet18_simam.zjjconan_in1k'


def _tool(script: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / 'tools' / script), *map(str, args)], capture_output=True,
                          text=True, env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO)), timeout=600)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob('*')) if p.is_file()}


# --------------------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------------------

def _release(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / 'manifest.json').write_text(text)
    (folder / 'weights.pth').write_text(text * 100)
    return folder


def test_a_file_a_link_or_a_file_above_are_refused(tmp_path):
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ValueError, match=r"out_dir '.*file': '.*file' exists and is not a folder"):
        staging.check_out_dir(tmp_path / 'file', overwrite=True)
    with pytest.raises(ValueError, match=r"'.*file' exists and is not a folder"):
        staging.check_out_dir(tmp_path / 'file' / 'release', overwrite=False)
    (tmp_path / 'target').mkdir()
    os.symlink(tmp_path / 'target', tmp_path / 'link')
    with pytest.raises(ValueError, match=r"out_dir '.*link' is a symlink"):
        staging.check_out_dir(tmp_path / 'link', overwrite=True)


def test_overwrite_replaces_a_release_only(tmp_path):
    _release(tmp_path / 'rel', 'old')
    with pytest.raises(FileExistsError, match='pass --overwrite'):
        staging.check_out_dir(tmp_path / 'rel', overwrite=False)
    assert staging.check_out_dir(tmp_path / 'rel', overwrite=True) == tmp_path / 'rel'
    (tmp_path / 'home').mkdir()
    (tmp_path / 'home' / 'notes.txt').write_text('mine')
    with pytest.raises(ValueError, match=r"holds files but no release .*--overwrite replaces a release only"):
        staging.check_out_dir(tmp_path / 'home', overwrite=True)
    with pytest.raises(ValueError, match='name the release folder itself'):
        staging.check_out_dir(tmp_path / 'rel' / '..', overwrite=True)


def test_an_error_while_writing_leaves_the_old_release_and_no_staging_folder(tmp_path):
    out = _release(tmp_path / 'rel', 'old')
    before = _listing(out)
    with pytest.raises(OSError, match='No space left'):
        with staging.staged_folder(out) as staged:
            (staged / 'manifest.json').write_text('new')
            raise OSError(28, 'No space left on device')
    assert _listing(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['rel']


def test_a_kill_between_the_two_renames_puts_the_old_release_back(tmp_path, monkeypatch):
    out = _release(tmp_path / 'rel', 'old')
    before = _listing(out)
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the new folder's rename into place
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(staging.os, 'replace', replace)
    with pytest.raises(KeyboardInterrupt):
        with staging.staged_folder(out) as staged:
            (staged / 'manifest.json').write_text('new')
    assert _listing(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['rel']


def test_a_kill_while_the_old_release_is_deleted_leaves_the_new_one_whole(tmp_path, monkeypatch):
    out = _release(tmp_path / 'rel', 'old')

    def killed_rmtree(path, *args, **kwargs):
        next(p for p in Path(path).rglob('*') if p.is_file()).unlink()  # part of it is gone, then the kill
        raise KeyboardInterrupt

    monkeypatch.setattr(staging.shutil, 'rmtree', killed_rmtree)
    with pytest.raises(KeyboardInterrupt):
        with staging.staged_folder(out) as staged:
            (staged / 'manifest.json').write_text('new')
            (staged / 'weights.pth').write_text('new' * 100)
    assert _listing(out) == {'manifest.json': b'new', 'weights.pth': b'new' * 100}


# --------------------------------------------------------------------------------------
# convert_published (tools/convert_published.py)
# --------------------------------------------------------------------------------------

@pytest.fixture
def authors(tmp_path):
    pytest.importorskip('mmpretrain', reason='needs the mm extra: pip install "convattn_plugin[mm]"')
    sys.path.insert(0, str(REPO / 'tests'))
    from published_reference import authors_resnet, randomize_, save_like_authors

    torch.manual_seed(0)
    return save_like_authors(randomize_(authors_resnet(18, 'simam', (0.1,) * 4)), tmp_path / 'authors.pth.tar',
                             best_key='best_acc')


def _no_reads(monkeypatch) -> list:
    """Record every read of the authors' file by convert_published: none may happen before OUT_DIR is checked."""
    from convattn_plugin.release import published

    reads = []
    real = published.load_weights
    monkeypatch.setattr(published, 'load_weights', lambda *a, **k: reads.append(a) or real(*a, **k))
    return reads


def test_a_file_as_out_dir_is_one_error_line_before_any_work(authors, tmp_path):
    (tmp_path / 'out').write_text('not a folder')
    done = _tool('convert_published.py', TAG, authors, tmp_path / 'out')
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"convert_published.py: error: out_dir '{tmp_path / 'out'}': '{tmp_path / 'out'}' exists and is not a "
        'folder; give a folder to write the release into (it is created if missing)']
    assert (tmp_path / 'out').read_text() == 'not a folder'


def test_a_link_as_out_dir_is_refused_before_the_conversion(authors, tmp_path, monkeypatch):
    from convattn_plugin.release.published import convert_published

    (tmp_path / 'elsewhere').mkdir()
    os.symlink(tmp_path / 'elsewhere', tmp_path / 'out')
    reads = _no_reads(monkeypatch)
    with pytest.raises(ValueError, match=r"out_dir '.*out' is a symlink"):
        convert_published(TAG, authors, tmp_path / 'out', overwrite=True)
    assert reads == [] and list((tmp_path / 'elsewhere').iterdir()) == []


def test_overwrite_killed_while_replacing_leaves_a_whole_release(authors, tmp_path, monkeypatch, one_thread):
    from convattn_plugin.release.published import convert_published
    from convattn_plugin.release.release_files import verify_manifest

    out = tmp_path / 'release'
    first = convert_published(TAG, authors, out, date='20260101', verify=False)
    old = _listing(out)
    with pytest.raises(FileExistsError, match='pass --overwrite'):
        convert_published(TAG, authors, out, date='20260102', verify=False)
    assert _listing(out) == old

    real_rmtree = shutil.rmtree

    def killed_rmtree(path, *args, **kwargs):
        if Path(path).name.startswith(f'.{out.name}.old-'):  # deleting the replaced release: killed half-way
            next(p for p in sorted(Path(path).rglob('*.pth'))).unlink()
            raise KeyboardInterrupt
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, 'rmtree', killed_rmtree)
    with pytest.raises(KeyboardInterrupt):
        convert_published(TAG, authors, out, overwrite=True, date='20260102', verify=False)
    monkeypatch.setattr(shutil, 'rmtree', real_rmtree)
    entries = verify_manifest(out)  # every file the manifest lists is there, with its hash
    assert sorted(entries) == sorted(k for k in _listing(out) if k != 'manifest.json')
    (checkpoint,) = out.glob('*.pth')
    assert checkpoint.name.startswith('resnet18-simam_zjjconan_in1k_20260102-')  # the new release, whole
    assert not first.checkpoint.exists()


def test_the_release_says_where_the_weights_come_from(authors, tmp_path, one_thread):
    import json

    import yaml

    from convattn_plugin.models.published_weights import PUBLISHED
    from convattn_plugin.release.published import convert_published

    entry = PUBLISHED[TAG]
    release = convert_published(TAG, authors, tmp_path / 'release', date='20260101', verify=False)
    model = yaml.safe_load(release.metafile.read_text())['Models'][0]
    assert model['Results'][0]['Metrics']['Top 1 Accuracy'] == entry.top1
    assert model['Metadata']['Training Data'] == 'ImageNet-1k'
    assert model['Metadata']['Weights Source'].startswith(entry.download_url)
    cfg = json.loads((release.timm_dir / 'config.json').read_text())['pretrained_cfg']
    assert cfg['license'] == entry.license and cfg['origin_url'] == entry.repo_url
    card = (release.timm_dir / 'README.md').read_text()
    assert f'license: {entry.license}' in card and "converted unchanged from the authors' authors.pth.tar" in card
    assert release.metrics['accuracy/top1'] == entry.top1


# --------------------------------------------------------------------------------------
# tools/convert.py
# --------------------------------------------------------------------------------------

@pytest.fixture
def timm_folder(tmp_path):
    pytest.importorskip('mmpretrain', reason='needs the mm extra: pip install "convattn_plugin[mm]"')
    import timm

    import convattn_plugin  # noqa: F401

    folder = tmp_path / 'timm'
    timm.models.save_for_hf(timm.create_model('resnet18_cbam', num_classes=10), str(folder),
                            safe_serialization=True)
    return folder


def test_a_name_that_leaves_out_dir_is_refused_and_writes_nothing(timm_folder, tmp_path):
    (tmp_path / 'work').mkdir()
    done = _tool('convert.py', 'timm2mm', timm_folder, tmp_path / 'work' / 'out', '--name', '../escaped')
    assert done.returncode == 1
    assert "convert.py: error: --name '../escaped': a model name is a file stem" in done.stderr
    assert not list(tmp_path.rglob('escaped*'))
    assert sorted(p.name for p in (tmp_path / 'work').iterdir()) == []


def test_convert_writes_its_folder_whole_and_keeps_an_old_one_unasked(timm_folder, tmp_path, one_thread):
    from convattn_plugin.release import convert_timm_to_mm

    config, checkpoint = convert_timm_to_mm(timm_folder, tmp_path / 'mm', 'r18')
    assert config == tmp_path / 'mm' / 'r18.json' and checkpoint.parent == tmp_path / 'mm' and checkpoint.is_file()
    before = _listing(tmp_path / 'mm')
    with pytest.raises(FileExistsError, match='pass --overwrite'):
        convert_timm_to_mm(timm_folder, tmp_path / 'mm', 'other')
    assert _listing(tmp_path / 'mm') == before
    convert_timm_to_mm(timm_folder, tmp_path / 'mm', 'other', overwrite=True)
    assert sorted(p.suffix for p in (tmp_path / 'mm').iterdir()) == ['.json', '.pth']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['mm', 'timm']  # no staging folder left
