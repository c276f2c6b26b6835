"""A release loads without running code from it, every path it names stays inside it, its files
match its manifest; publishing never leaves a half release or replaces one unasked."""
from __future__ import annotations

import json
import os
import re
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


def _edit_config(root: Path, change) -> Path:
    path = root / f'{NAME}.json'
    cfg = json.loads(path.read_text())
    change(cfg)
    path.write_text(json.dumps(cfg))
    _reseal(root)
    return path


def _marker_package(folder: Path, package: str, marker: Path) -> None:
    """A package ``<folder>/<package>`` whose import (and ``.registry`` import) writes ``marker``."""
    pkg = folder.joinpath(*package.split('.'))
    pkg.mkdir(parents=True, exist_ok=True)
    code = f"open({str(marker)!r}, 'w').write('code ran')\n"
    for part in range(1, len(package.split('.'))):
        init = folder.joinpath(*package.split('.')[:part]) / '__init__.py'
        init.touch()
    (pkg / '__init__.py').write_text(code)
    (pkg / 'registry.py').write_text(code)


# Each: what an attacker writes into a release config, and the key the refusal names.
_OUTSIDE_THE_SCHEMA = {
    'base': (lambda cfg: cfg.update(_base_=['evil.py']), "'_base_'"),
    'scope in the model': (lambda cfg: cfg['model'].update(_scope_='releases.cbam_safety.pwn'), "'_scope_'"),
    'scope in the backbone': (lambda cfg: cfg['model']['backbone'].update(_scope_='pwn_module'), "'_scope_'"),
    'scoped type': (lambda cfg: cfg['model']['head'].update(type='pwn_module.LinearClsHead'), 'pwn_module'),
    'dotted type': (lambda cfg: cfg['model']['backbone'].update(type='os.system', command='true'), "'os.system'"),
    'custom_imports': (lambda cfg: cfg.update(custom_imports=dict(imports=['pwn_module'])), 'custom_imports'),
    'timm classifier forwarding a url': (lambda cfg: cfg.update(model=dict(
        type='TimmClassifier', model_name='resnet18', pretrained=True,
        pretrained_cfg_overlay=dict(url='http://127.0.0.1:9/w.pth'))), "'TimmClassifier'"),
    'timm classifier forwarding a path': (lambda cfg: cfg.update(model=dict(
        type='TimmClassifier', model_name='resnet18', checkpoint_path='/etc/passwd')), "'TimmClassifier'"),
    'huggingface classifier': (lambda cfg: cfg.update(model=dict(
        type='HuggingFaceClassifier', model_name='.', trust_remote_code=True)), "'HuggingFaceClassifier'"),
    'timm_kwargs forwarding a url': (lambda cfg: cfg['model']['backbone'].update(
        timm_kwargs=dict(pretrained=True, pretrained_cfg_overlay=dict(url='http://127.0.0.1:9/w.pth'))),
        "'pretrained'"),
    'init_cfg naming a file': (lambda cfg: cfg['model']['backbone'].update(
        init_cfg=dict(type='Pretrained', checkpoint='/etc/passwd')), "'init_cfg'"),
    'a data set path': (lambda cfg: cfg['test_dataloader']['dataset'].update(data_root='/etc'), "'data_root'"),
    'a training part': (lambda cfg: cfg.update(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1))),
                        "'optim_wrapper'"),
    'a nested dict in an attention option': (lambda cfg: cfg['model']['backbone'].update(
        attn_kwargs=dict(act_layer=dict(type='os.system'))), 'attn_kwargs.act_layer'),
    'another default scope': (lambda cfg: cfg.update(default_scope='pwn_module'), 'default_scope'),
}


@pytest.mark.parametrize('change, named', list(_OUTSIDE_THE_SCHEMA.values()), ids=list(_OUTSIDE_THE_SCHEMA))
def test_a_release_config_outside_the_schema_is_refused_by_every_loader(copy, tmp_path, clean_hub, monkeypatch,
                                                                        change, named):
    import mmpretrain

    from convattn_plugin.release import verify_release

    # The payloads an attacker would reach: a module inside the release folder (importable from
    # the folder above releases/) and one on sys.path.
    marker = tmp_path / 'marker'
    releases = tmp_path / 'cwd'
    (releases / 'releases').mkdir(parents=True)
    root = releases / 'releases' / 'cbam_safety'
    os.replace(copy, root)
    _marker_package(releases, 'releases.cbam_safety.pwn', marker)
    _marker_package(tmp_path / 'site', 'pwn_module', marker)
    monkeypatch.chdir(releases)
    monkeypatch.syspath_prepend(str(releases))
    monkeypatch.syspath_prepend(str(tmp_path / 'site'))
    _edit_config(root, change)
    ways = {
        'register_release + get_model': lambda: (register_release(root / 'metafile.yml'),
                                                  mmpretrain.get_model(NAME, pretrained=True)),
        'load_mm_release': lambda: load_mm_release(next(root.glob(f'{NAME}_*.pth'))),
        'verify_release': lambda: verify_release(root),
        'build_mm_model': lambda: build_mm_model(root / f'{NAME}.json'),
    }
    for way, load in ways.items():
        with pytest.raises(UnsafeReleaseError, match=re.escape(named)):
            load()
    assert not marker.exists()
    assert NAME not in mmpretrain.list_models(NAME)


def test_the_published_config_holds_only_the_schema(release):
    from convattn_plugin.mm.config_schema import SCHEMA

    cfg = json.loads((release / f'{NAME}.json').read_text())
    assert set(cfg) <= set(SCHEMA) and 'model' in cfg
    assert cfg['custom_imports'] == {'imports': ['convattn_plugin.mm'], 'allow_failed_imports': False}
    # Paths and training parts stay with the training run.
    text = json.dumps(cfg)
    for absent in ('data_root', 'optim_wrapper', 'train_dataloader', 'init_cfg', 'work_dir', 'load_from'):
        assert absent not in text


def test_a_release_config_with_a_repeated_key_is_refused(copy, clean_hub):
    path = copy / f'{NAME}.json'
    path.write_text(path.read_text().replace('{\n  "model": {', '{\n  "model": {"type": "TimmClassifier",', 1))
    _reseal(copy)
    with pytest.raises(UnsafeReleaseError, match=r"key\(s\) \['type'\] appear more than once"):
        register_release(copy / 'metafile.yml')


def _run_tool(args: list[str], cwd: Path) -> 'subprocess.CompletedProcess[str]':
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(cwd))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_tools_read_a_json_config_through_the_schema(copy, tmp_path):
    marker = tmp_path / 'marker'
    (copy / 'evil.py').write_text(f"open({str(marker)!r}, 'w').write('code ran')\n")
    _marker_package(copy, 'pwn_module', marker)
    config = _edit_config(copy, lambda cfg: cfg.update(_base_=['evil.py']))
    ckpt = next(copy.glob(f'{NAME}_*.pth'))
    test = _run_tool([str(REPO / 'tools/test.py'), str(config), str(ckpt), '--work-dir', str(tmp_path / 'w')], copy)
    assert test.returncode != 0 and "key '_base_' is not in the release config schema" in test.stderr
    _edit_config(copy, lambda cfg: (cfg.pop('_base_'), cfg.update(custom_imports=dict(imports=['pwn_module']))))
    tool = _run_tool(['-m', 'convattn_plugin.mm', 'misc/print_config', str(config)], copy)
    assert tool.returncode != 0 and 'custom_imports' in tool.stderr and 'not accepted' in tool.stderr
    train = _run_tool([str(REPO / 'tools/train.py'), str(config), '--work-dir', str(tmp_path / 'w')], copy)
    assert train.returncode != 0 and 'JSON configs are release configs' in train.stderr
    assert not marker.exists()


def test_tools_test_py_runs_a_release_config(release, tmp_path):
    ckpt = next(release.glob(f'{NAME}_*.pth'))
    run = _run_tool([str(REPO / 'tools/test.py'), str(release / f'{NAME}.json'), str(ckpt),
                     '--work-dir', str(tmp_path / 'w')], tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    top1 = json.loads(run.stdout.strip().splitlines()[-1])['accuracy/top1']
    assert 0.0 <= top1 <= 100.0


# --------------------------------------------------------------------------------------
# Every file a release uses is in its manifest; one model; only the project's names
# --------------------------------------------------------------------------------------

def _manifest_without(root: Path, *names: str) -> None:
    write_manifest(root, [p for p in root.rglob('*') if p.is_file() and p.name != 'manifest.json'
                          and p.name not in names])


def test_weights_the_manifest_does_not_list_are_refused(copy, clean_hub):
    ckpt = next(copy.glob(f'{NAME}_*.pth'))
    plain = ckpt.rename(copy / 'weights.pth')  # no hash in its name
    _set_entry(copy, Weights=plain.name)
    _manifest_without(copy, plain.name)
    for way, load in _loaders(copy).items():
        if way == 'load_mm_release':
            load = lambda: load_mm_release(plain)  # noqa: E731
        with pytest.raises(UnsafeReleaseError, match='weights.pth is not covered by manifest.json'):
            load()


@pytest.mark.parametrize('left_out', ['config', 'timm/model.safetensors', 'timm/config.json', 'metafile.yml'])
def test_a_release_whose_manifest_misses_a_file_it_uses_is_refused(copy, clean_hub, left_out):
    name = f'{NAME}.json' if left_out == 'config' else Path(left_out).name
    _manifest_without(copy, name)
    if left_out == 'config':  # edited after the manifest was written
        (copy / name).write_text((copy / name).read_text().replace('"num_classes": 10', '"num_classes": 9'))
    for way, load in _loaders(copy).items():
        with pytest.raises(UnsafeReleaseError, match=f'{re.escape(name)} is not covered by manifest.json'):
            load()


def test_a_release_takes_only_the_projects_own_unweighted_names(copy, clean_hub):
    from mmpretrain.apis import ModelHub

    ModelHub._register_mmpretrain_models()
    theirs = sorted(k for k, m in ModelHub._models_dict.items()
                    if m.weights is None and 'convattn' not in str(m.config) and '/configs/resnet' not in str(m.config))
    assert theirs, 'mmpretrain 1.2 lists configs without weights (MAE, SimMIM, iTPN): the test needs one'
    _set_entry(copy, Name=theirs[0])
    with pytest.raises(ValueError, match="not one of the project's configs"):
        register_release(copy / 'metafile.yml')
    assert ModelHub._models_dict[theirs[0]].weights is None
    _set_entry(copy, Name='resnet18-cbam_1xb32_digits')  # the project's own, without weights
    assert register_release(copy / 'metafile.yml') == ['resnet18-cbam_1xb32_digits']


def test_a_release_has_one_model_and_each_file_is_hashed_once(copy, clean_hub, monkeypatch):
    from convattn_plugin.release import release_files

    meta = yaml.safe_load((copy / 'metafile.yml').read_text())
    meta['Models'] = meta['Models'] * 100_000
    (copy / 'metafile.yml').write_text(yaml.safe_dump(meta, sort_keys=False))
    _reseal(copy)
    with pytest.raises(UnsafeReleaseError, match='Models lists 100000 models; a release has exactly one'):
        register_release(copy / 'metafile.yml')
    meta['Models'] = meta['Models'][:1]
    (copy / 'metafile.yml').write_text(yaml.safe_dump(meta, sort_keys=False))
    _reseal(copy)
    hashed = []
    real = release_files.sha256_of
    monkeypatch.setattr(release_files, 'sha256_of', lambda p, *a: hashed.append(Path(p).name) or real(p, *a))
    assert register_release(copy / 'metafile.yml') == [NAME]
    assert sorted(hashed) == sorted(set(hashed)) and any(n.endswith('.pth') for n in hashed)


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
