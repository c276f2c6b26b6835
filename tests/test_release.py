"""One mmpretrain run, one release, the same predictions in timm and mmpretrain.

End to end as a user runs it: ``tools/train.py`` (a few iterations on the digits),
``tools/publish_model.py``, then the release loaded every documented way. Each way must give
the logits of the others (atol 1e-5).
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip('mmpretrain')

import timm  # noqa: E402

import convattn_plugin.mm  # noqa: E402,F401  (registers the backbones and the allow-list)
from convattn_plugin.checkpoint import HashMismatchError, sha256_of  # noqa: E402
from convattn_plugin.release import (ArchitectureMismatchError, find_release_files,  # noqa: E402
                                     load_mm_release, read_checkpoint, read_config, register_release)
from convattn_plugin.release import metafile as release_metafile  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CFG = REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py'
NAME = CFG.stem
ATOL = 1e-5


def _mm_test_kit():
    """The tiny-run helpers of tests/mm/conftest.py (TINY, cfg_options, child_env, run_tool)."""
    spec = importlib.util.spec_from_file_location('_convattn_mm_test_kit', REPO / 'tests/mm/conftest.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


KIT = _mm_test_kit()


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> Path:
    """``tools/train.py`` for 6 iterations (48 images, 2 epochs) with a validation at the end."""
    work_dir = tmp_path_factory.mktemp('train')
    KIT.run_tool([sys.executable, 'tools/train.py', str(CFG), '--work-dir', str(work_dir),
                  *KIT.cfg_options(KIT.TINY)], KIT.child_env())
    return work_dir / 'epoch_2.pth'


@pytest.fixture(scope='module')
def release(trained, tmp_path_factory) -> SimpleNamespace:
    """``tools/publish_model.py CONFIG CHECKPOINT OUT_DIR`` (it verifies the release itself)."""
    root = tmp_path_factory.mktemp('release') / 'resnet18-cbam_digits'
    proc = KIT.run_tool([sys.executable, 'tools/publish_model.py', str(CFG), str(trained), str(root)],
                        KIT.child_env())
    assert 'verified before it was moved into place, max |logit diff|' in proc.stdout, proc.stdout
    config, checkpoint, timm_dir = find_release_files(root)
    return SimpleNamespace(root=root, config=config, checkpoint=checkpoint, timm_dir=timm_dir, trained=trained,
                           stdout=proc.stdout)


@pytest.fixture
def clean_hub():
    """Undo registrations into mmpretrain's ModelHub (other tests expect the project's index only)."""
    from mmpretrain.apis import ModelHub

    ModelHub._register_mmpretrain_models()
    models, registered = dict(ModelHub._models_dict), dict(release_metafile._registered)
    yield
    ModelHub._models_dict.clear()
    ModelHub._models_dict.update(models)
    release_metafile._registered.clear()
    release_metafile._registered.update(registered)


def _digits(n: int = 24, size: int = 32) -> list[np.ndarray]:
    """Real digits as uint8 RGB arrays, resized to ``size`` (8 keeps the originals)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    images = load_digits().images[:n]
    out = []
    for im in images:
        rgb = np.repeat(np.clip(np.round(im * 255 / 16), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
        out.append(rgb if size == 8 else np.array(Image.fromarray(rgb).resize((size, size), Image.BILINEAR)))
    return out


def _val_top1(trained: Path) -> float:
    scalars = next(trained.parent.glob('*/vis_data/scalars.json'))
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    return [r for r in records if 'accuracy/top1' in r][-1]['accuracy/top1']


# --------------------------------------------------------------------------------------
# The release folder
# --------------------------------------------------------------------------------------

def test_release_layout(release):
    files = {p.relative_to(release.root).as_posix() for p in release.root.rglob('*') if p.is_file()}
    assert files == {'metafile.yml', 'manifest.json', f'{NAME}.json', release.checkpoint.name,
                     'timm/config.json', 'timm/model.safetensors', 'timm/README.md'}
    manifest = json.loads((release.root / 'manifest.json').read_text())['sha256']
    assert manifest == {f: sha256_of(release.root / f) for f in files - {'manifest.json'}}
    assert not [p for p in release.root.parent.iterdir() if p.name.startswith('.')]  # no temporary folder left
    # Modes follow the umask like any written file: the staging folder is not left private (0700).
    umask = os.umask(0)
    os.umask(umask)
    for p in [release.root, release.root / 'timm', *(release.root / f for f in files)]:
        expected = (0o777 if p.is_dir() else 0o666) & ~umask
        assert p.stat().st_mode & 0o777 == expected, (p, oct(p.stat().st_mode & 0o777))
    # mmpretrain's publish convention: <stem>_<YYYYMMDD>-<first 8 hex digits of sha256>.pth
    m = re.fullmatch(rf'{re.escape(NAME)}_(\d{{8}})-([0-9a-f]{{8}})\.pth', release.checkpoint.name)
    assert m and sha256_of(release.checkpoint).startswith(m[2])


def test_checkpoint_is_stripped_and_loads_weights_only_without_allow_list(release):
    # A fresh interpreter that never imports convattn_plugin: torch's default allow-list only.
    code = ('import sys, torch; ck = torch.load(sys.argv[1], map_location="cpu", weights_only=True); '
            'assert sorted(ck) == ["meta", "state_dict"], sorted(ck); '
            'assert ck["meta"]["dataset_meta"]["classes"][3] == "3"; print(len(ck["state_dict"]))')
    proc = subprocess.run([sys.executable, '-c', code, str(release.checkpoint)], capture_output=True, text=True,
                          env=KIT.child_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    full = torch.load(release.trained, map_location='cpu', weights_only=True)  # allow-list of convattn_plugin.mm
    assert {'optimizer', 'message_hub'} <= set(full)
    assert int(proc.stdout) == len(full['state_dict'])


def test_timm_config_json(release):
    cfg = json.loads((release.timm_dir / 'config.json').read_text())
    assert cfg['architecture'] == 'resnet18_cbam' and cfg['num_classes'] == 10
    assert 'num_classes' not in cfg['model_args']  # transformers passes num_classes itself
    assert cfg['label_names'] == [str(i) for i in range(10)]
    pcfg = cfg['pretrained_cfg']
    # digits_bs32.py: Resize to 32x32 (bilinear), mean = std = 127.5 on 0-255.
    assert pcfg['input_size'] == [3, 32, 32] and pcfg['interpolation'] == 'bilinear'
    assert pcfg['crop_pct'] == 1.0 and pcfg['crop_mode'] == 'squash'
    assert pcfg['mean'] == [0.5] * 3 and pcfg['std'] == [0.5] * 3
    assert 'notes' not in pcfg  # the untrained model's "untrained" note is not carried over


def test_model_card(release):
    card = (release.timm_dir / 'README.md').read_text()
    top1 = _val_top1(release.trained)
    for text in ('pipeline_tag: image-classification', 'library_name: timm', '- scikit-learn digits',
                 '**Model Type:** Image Classification', '**Dataset:** scikit-learn digits',
                 f'Top 1 Accuracy: {top1:.2f}', 'Params (M): 11.27', 'GMACs:', 'Image size: 32 x 32',
                 "timm.create_model('local-dir:", 'pretrained_cfg_overlay=dict(file=',
                 "register_release('<release folder>/metafile.yml')", f"get_model('{NAME}', pretrained=True)",
                 'ImageClassificationInferencer('):
        assert text in card, text


def test_metafile_entry(release):
    meta = yaml.safe_load((release.root / 'metafile.yml').read_text())
    (collection,), (model,) = meta['Collections'], meta['Models']
    assert model['Name'] == NAME and model['In Collection'] == collection['Name']
    assert model['Weights'] == release.checkpoint.name and model['Config'] == f'{NAME}.json'
    assert model['Metadata']['Parameters'] == 11269482
    assert model['Metadata']['FLOPs'] > 0 and model['Metadata']['Training Data'] == 'scikit-learn digits'
    (result,) = model['Results']
    assert result['Task'] == 'Image Classification' and result['Dataset'] == 'scikit-learn digits'
    assert result['Metrics']['Top 1 Accuracy'] == pytest.approx(_val_top1(release.trained), abs=0.01)
    assert 'CBAM' in str(collection['Metadata']['Architecture'])


# --------------------------------------------------------------------------------------
# Same weights, same logits, every way of loading
# --------------------------------------------------------------------------------------

def test_same_logits_in_timm_and_mmpretrain(release):
    from mmpretrain import ImageClassificationInferencer, get_model

    cfg = json.loads((release.timm_dir / 'config.json').read_text())
    ways = {
        'local-dir': timm.create_model(f'local-dir:{release.timm_dir}', pretrained=True),
        # By name: model args as keywords; num_classes in the overlay too, or timm drops the classifier.
        'overlay': timm.create_model(cfg['architecture'], pretrained=True, **cfg['model_args'],
                                     num_classes=cfg['num_classes'],
                                     pretrained_cfg_overlay=dict(file=str(release.timm_dir / 'model.safetensors'),
                                                                 num_classes=cfg['num_classes'])),
        'get_model': get_model(read_config(release.config), pretrained=str(release.checkpoint)),
        'load_mm_release': load_mm_release(release.checkpoint),
    }
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = {k: (m.eval()(x, mode='tensor') if k in ('get_model', 'load_mm_release') else m.eval()(x))
                  for k, m in ways.items()}
    for k, v in logits.items():
        torch.testing.assert_close(v, logits['local-dir'], atol=ATOL, rtol=0, msg=k)
    assert logits['local-dir'].abs().max() > 1e-3  # trained weights, not an all-zero classifier

    # The inferencer with the published .pth, on real digits, against timm with its own preprocessing.
    inferencer = ImageClassificationInferencer(read_config(release.config), pretrained=str(release.checkpoint))
    data_config = timm.data.resolve_model_data_config(ways['local-dir'])
    transform = timm.data.create_transform(**data_config, is_training=False)
    from PIL import Image
    for size, atol in ((32, ATOL), (8, 0.05)):  # 8 px: both resize, PIL and OpenCV round differently
        images = _digits(size=size)
        mm_scores = torch.tensor(np.stack([r['pred_scores'] for r in inferencer(images, batch_size=len(images))]))
        with torch.no_grad():
            timm_scores = ways['local-dir'](torch.stack([transform(Image.fromarray(i)) for i in images])).softmax(-1)
        torch.testing.assert_close(mm_scores, timm_scores.to(mm_scores.dtype), atol=atol, rtol=0, msg=f'{size} px')
    # ... and its model's logits on the mmpretrain-preprocessed batch.
    packed = [inferencer.pipeline({'img': i}) for i in _digits()]
    batch = inferencer.model.data_preprocessor(
        {'inputs': [p['inputs'] for p in packed], 'data_samples': [p['data_samples'] for p in packed]}, False)
    with torch.no_grad():
        torch.testing.assert_close(inferencer.model(batch['inputs'], mode='tensor'), ways['local-dir'](batch['inputs']),
                                   atol=ATOL, rtol=0)


def test_registered_release_loads_by_name(release, clean_hub):
    import mmpretrain

    before = mmpretrain.get_model(NAME)  # the project's own entry: config, no weights
    assert before._metainfo.weights is None
    assert register_release(release.root / 'metafile.yml') == [NAME.lower()]
    assert register_release(release.root / 'metafile.yml') == []  # twice is harmless
    assert NAME in mmpretrain.list_models('*cbam*digits*')
    model = mmpretrain.get_model(NAME, pretrained=True)
    reference = timm.create_model(f'local-dir:{release.timm_dir}', pretrained=True).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x, mode='tensor'), reference(x), atol=ATOL, rtol=0)


# --------------------------------------------------------------------------------------
# Safe loading
# --------------------------------------------------------------------------------------

def test_hash_mismatch_is_refused(release, tmp_path, clean_hub):
    tampered = tmp_path / release.checkpoint.name
    data = bytearray(release.checkpoint.read_bytes())
    data[-100] ^= 0xFF
    tampered.write_bytes(bytes(data))
    for load in (lambda p: load_mm_release(p, release.config), read_checkpoint):
        with pytest.raises(HashMismatchError, match='the file is corrupt or was changed after publishing'):
            load(tampered)
    copy = Path(shutil.copytree(release.root, tmp_path / 'copy'))
    shutil.copy(tampered, copy / tampered.name)
    with pytest.raises(HashMismatchError, match=release.checkpoint.name[-12:-4]):
        register_release(copy / 'metafile.yml')


def test_checkpoint_of_another_architecture_is_refused(release):
    vgg_cfg = REPO / 'configs/vgg_localattn/vgg16-localattn_1xb32_digits.py'
    with pytest.raises(ArchitectureMismatchError) as info:
        load_mm_release(release.checkpoint, vgg_cfg)
    msg = str(info.value)
    assert 'it holds weights of another architecture' in msg
    assert 'missing: backbone.timm_model.features.0.weight' in msg
    assert 'unexpected: backbone.timm_model.conv1.weight' in msg
    assert 'head.layers.0.fc.weight' in info.value.report.missing_keys
    # Same family, other attention: the CBAM keys are unexpected in a plain ResNet-18.
    with pytest.raises(ArchitectureMismatchError, match=r'unexpected: backbone\.timm_model\.layer1\.0\.se\.'):
        load_mm_release(release.checkpoint, REPO / 'configs/resnet/resnet18-plain_1xb32_digits.py')


def _unsafe_load_calls(path: Path) -> list[tuple[int, str]]:
    """Calls in a file that pass ``weights_only`` other than ``True`` (any function: ``torch.load``,
    timm's ``load_state_dict``, ...), and ``torch.load`` calls that do not pass it at all."""
    bad = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        is_torch_load = isinstance(node.func, ast.Attribute) and node.func.attr == 'load' \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == 'torch'
        if 'weights_only' in kw or is_torch_load:
            value = kw.get('weights_only')
            if not (isinstance(value, ast.Constant) and value.value is True):
                bad.append((node.lineno, ast.unparse(node)))
    return bad


def test_nothing_loads_with_weights_only_false():
    # torch < 2.6 (pyproject allows 2.4) defaults to weights_only=False: torch.load must say True.
    files = [p for d in ('convattn_plugin', 'tools') for p in sorted((REPO / d).rglob('*.py'))]
    assert len(files) > 10
    offenders = {str(p.relative_to(REPO)): calls for p in files if (calls := _unsafe_load_calls(p))}
    assert not offenders, offenders
