"""A release loads without running code from it, every path it names stays inside it, its files
match its manifest; publishing never leaves a half release or replaces one unasked."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip('mmpretrain')

import convattn_plugin.mm  # noqa: E402,F401
from convattn_plugin.checkpoint import (HashMismatchError, NonFiniteWeightsError,  # noqa: E402
                                        UnsafeCheckpointError, sha256_of)
from convattn_plugin.release import (ConversionError, UnsafeReleaseError, build_mm_model,  # noqa: E402
                                     convert_timm_to_mm, find_release_files, load_mm_release, publish,
                                     read_checkpoint, register_release)
from convattn_plugin.release import metafile as release_metafile  # noqa: E402
from convattn_plugin.release.release_files import write_manifest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CFG_CBAM = REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py'
NAME = 'cbam-safety'

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    torch.save({'state_dict': build_mm_model(CFG_CBAM).state_dict(), 'meta': {'epoch': 1}}, path)
    return path


@pytest.fixture(scope='module')
def release(checkpoint, tmp_path_factory) -> Path:
    return publish(checkpoint, CFG_CBAM, tmp_path_factory.mktemp('rel') / 'release', name=NAME).root


@pytest.fixture
def copy(release, tmp_path):
    """A copy of the release that a test may tamper with."""
    import shutil

    return Path(shutil.copytree(release, tmp_path / 'copy'))


@pytest.fixture
def clean_hub():
    from mmpretrain.apis import ModelHub

    ModelHub._register_mmpretrain_models()
    models, registered = dict(ModelHub._models_dict), dict(release_metafile._registered)
    yield
    ModelHub._models_dict.clear()
    ModelHub._models_dict.update(models)
    release_metafile._registered.clear()
    release_metafile._registered.update(registered)


def _reseal(root: Path) -> None:
    """Rewrite the manifest over the files as they are now (an attacker controls the whole folder)."""
    write_manifest(root, [p for p in root.rglob('*') if p.is_file() and not p.is_symlink()
                          and p.name != 'manifest.json'])


def _set_entry(root: Path, **fields) -> None:
    meta = yaml.safe_load((root / 'metafile.yml').read_text())
    meta['Models'][0].update(fields)
    (root / 'metafile.yml').write_text(yaml.safe_dump(meta, sort_keys=False))
    _reseal(root)


def _loaders(root: Path):
    return {'find_release_files': lambda: find_release_files(root),
            'register_release': lambda: register_release(root / 'metafile.yml'),
            'load_mm_release': lambda: load_mm_release(next(root.glob(f'{NAME}_*.pth')))}


@pytest.mark.parametrize('way', ['find_release_files', 'register_release', 'load_mm_release'])
@pytest.mark.parametrize('config', ['../outside.json', '/etc/passwd', 'link.json'])
def test_config_paths_leaving_the_release_are_refused(copy, tmp_path, clean_hub, way, config):
    outside = tmp_path / 'outside.json'
    outside.write_text((copy / f'{NAME}.json').read_text())
    os.symlink(outside, copy / 'link.json')
    _set_entry(copy, Config=config)
    with pytest.raises(UnsafeReleaseError, match=r'Config .* (not a relative path inside|leads out of) the release'):
        _loaders(copy)[way]()


@pytest.mark.parametrize('weights', ['../epoch_1.pth', '/tmp/x-0123abcd.pth', 'https://example.org/w.pth'])
def test_weights_outside_the_release_or_unverifiable_urls_are_refused(copy, clean_hub, weights):
    _set_entry(copy, Weights=weights)
    with pytest.raises(UnsafeReleaseError, match='Weights'):
        register_release(copy / 'metafile.yml')


def test_a_python_config_is_never_executed(copy, tmp_path, clean_hub):
    marker = tmp_path / 'marker'
    (copy / 'evil.py').write_text(f"open({str(marker)!r}, 'w').write('code ran')\nmodel = dict(type='ImageClassifier')\n")
    _set_entry(copy, Config='evil.py')
    _reseal(copy)
    for way, load in _loaders(copy).items():
        if way == 'find_release_files':
            continue
        with pytest.raises(UnsafeReleaseError, match=r'a release config is a \.json file'):
            load()
    assert not marker.exists()


@pytest.mark.parametrize('change, message', [
    (lambda cfg: cfg.update(_base_=['evil.py']), '_base_ is refused'),
    (lambda cfg: cfg['model']['backbone'].update(type='os.system', command='true'), "type='os.system' is not a class"),
    (lambda cfg: cfg.update(custom_imports=dict(imports=['antigravity'])), 'may only import'),
])
def test_a_json_config_may_only_name_registered_classes(copy, clean_hub, change, message):
    path = copy / f'{NAME}.json'
    cfg = json.loads(path.read_text())
    change(cfg)
    path.write_text(json.dumps(cfg))
    _reseal(copy)
    with pytest.raises(UnsafeReleaseError, match=message):
        register_release(copy / 'metafile.yml')


def test_files_must_match_the_manifest(copy, clean_hub):
    path = copy / f'{NAME}.json'
    path.write_text(path.read_text().replace('"num_classes": 10', '"num_classes": 10 '))
    with pytest.raises(HashMismatchError, match=r'the release was changed after publishing'):
        register_release(copy / 'metafile.yml')
    (copy / 'manifest.json').unlink()
    with pytest.raises(FileNotFoundError, match='no manifest.json'):
        find_release_files(copy)


def test_a_url_in_weights_is_downloaded_and_never_unpickled(copy, tmp_path, clean_hub, served, hub_dir,
                                                           code_running_pickle):
    import mmpretrain

    www, base = served
    marker = tmp_path / 'marker'
    plain = www / 'evil.pth'
    torch.save({'state_dict': code_running_pickle(marker)}, plain)
    evil = plain.rename(www / f'evil-{sha256_of(plain)[:8]}.pth')
    _set_entry(copy, Weights=f'{base}/{evil.name}')
    assert register_release(copy / 'metafile.yml') == [NAME]
    with pytest.raises(UnsafeCheckpointError, match='refused'):
        mmpretrain.get_model(NAME, pretrained=True)
    assert not marker.exists()


# --------------------------------------------------------------------------------------
# Publishing: whole or nothing, never over an existing release unasked
# --------------------------------------------------------------------------------------

def _listing(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_of(p) for p in sorted(folder.rglob('*')) if p.is_file()}


def test_an_existing_release_is_kept_unless_overwrite(checkpoint, release, tmp_path):
    import shutil

    out = Path(shutil.copytree(release, tmp_path / 'out'))
    before = _listing(out)
    with pytest.raises(FileExistsError, match='pass --overwrite'):
        publish(checkpoint, CFG_CBAM, out, name=NAME, verify=False)
    assert _listing(out) == before
    rel = publish(checkpoint, CFG_CBAM, out, name='other-name', overwrite=True, verify=False)
    assert sorted(p.name for p in out.glob('*.json')) == ['manifest.json', 'other-name.json']
    assert not list(out.glob(f'{NAME}*'))  # nothing of the old release is orphaned in it
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out']  # no temporary folder left
    assert rel.checkpoint.is_file() and rel.checkpoint.parent == out


def test_a_failure_midway_leaves_nothing(checkpoint, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    publish_module = sys.modules['convattn_plugin.release.publish']  # the package's `publish` is the function
    monkeypatch.setattr(publish_module, 'write_timm_folder', disk_full)
    with pytest.raises(OSError, match='No space left'):
        publish(checkpoint, CFG_CBAM, tmp_path / 'out', name=NAME)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('name', ['../x', 'a/b', '..', '.hidden', 'x..y'])
def test_names_that_leave_the_folder_are_refused(checkpoint, tmp_path, name):
    with pytest.raises(ValueError, match=r'--name .*: a model name is a file stem'):
        publish(checkpoint, CFG_CBAM, tmp_path / 'out', name=name)
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'x').exists()


def test_an_out_dir_that_is_a_link_is_refused(checkpoint, tmp_path):
    target = tmp_path / 'elsewhere'
    target.mkdir()
    os.symlink(target, tmp_path / 'out')
    with pytest.raises(ValueError, match="out_dir '.*out' is a symlink"):
        publish(checkpoint, CFG_CBAM, tmp_path / 'out', name=NAME, overwrite=True)
    assert list(target.iterdir()) == []


def test_publish_names_non_finite_weights_not_the_layouts(tmp_path):
    state = build_mm_model(CFG_CBAM).state_dict()
    state['head.fc.bias'][3] = float('nan')
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    with pytest.raises(NonFiniteWeightsError, match=r'epoch_1\.pth has non-finite values .* head\.fc\.bias') as e:
        publish(ckpt, CFG_CBAM, tmp_path / 'out')
    assert 'layout' not in str(e.value)
    assert not (tmp_path / 'out').exists()


def test_read_checkpoint_refuses_code(tmp_path, code_running_pickle):
    marker = tmp_path / 'marker'
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'w': code_running_pickle(marker)}}, ckpt)
    with pytest.raises(UnsafeCheckpointError, match='refused'):
        read_checkpoint(ckpt)
    assert not marker.exists()


def test_a_crafted_config_json_key_is_refused_not_written_as_code(release, tmp_path):
    import shutil

    folder = Path(shutil.copytree(release / 'timm', tmp_path / 'timm'))
    cfg = json.loads((folder / 'config.json').read_text())
    cfg['model_args']["x=__import__('os').system('touch pwned')#"] = 1
    (folder / 'config.json').write_text(json.dumps(cfg))
    with pytest.raises(ConversionError, match=r"key \"x=__import__.*\" is not a Python identifier"):
        convert_timm_to_mm(folder, tmp_path / 'mm')
    assert not (tmp_path / 'mm').exists()
