"""A release's timm folder loads through transformers' timm wrapper (after ``import convattn_plugin``)
with timm's logits; folders written before ``num_classes`` left ``model_args`` still convert."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip('mmpretrain')
transformers = pytest.importorskip('transformers')

import timm  # noqa: E402

import convattn_plugin.mm  # noqa: E402,F401
from convattn_plugin.release import (build_mm_model, convert_timm_to_mm, pair_from_mm, timm_create_kwargs,  # noqa: E402
                                     write_timm_folder)

REPO = Path(__file__).resolve().parents[1]
CFG_CBAM = REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py'
ATOL = 1e-5

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp('hf')
    model = build_mm_model(CFG_CBAM)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # an untrained head would give (nearly) equal scores
    ckpt = tmp / 'epoch_1.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': {'classes': list('0123456789')}}}, ckpt)
    return write_timm_folder(pair_from_mm(CFG_CBAM, ckpt), tmp / 'timm')


def test_config_json_names_num_classes_once_and_says_what_to_import(folder):
    cfg = json.loads((folder / 'config.json').read_text())
    assert cfg['num_classes'] == 10 and 'num_classes' not in cfg['model_args']
    assert 'import convattn_plugin' in cfg['requires']
    assert 'import convattn_plugin' in transformers.AutoConfig.from_pretrained(folder).requires


def test_auto_model_and_pipeline_give_timms_logits(folder):
    from PIL import Image

    hf = transformers.AutoModelForImageClassification.from_pretrained(folder).eval()
    reference = timm.create_model(f'local-dir:{folder}', pretrained=True).eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, reference(x), atol=ATOL, rtol=0)
    assert hf.config.id2label[3] == '3'

    image = Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8))
    classifier = transformers.pipeline('image-classification', model=str(folder), top_k=10)
    scores = {r['label']: r['score'] for r in classifier(image)}
    transform = timm.data.create_transform(**timm.data.resolve_model_data_config(reference), is_training=False)
    with torch.no_grad():
        expected = reference(transform(image).unsqueeze(0)).softmax(-1)[0]
    got = torch.tensor([scores[str(i)] for i in range(10)])
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=0)  # PIL vs torchvision resizing may differ


def test_a_folder_with_num_classes_in_model_args_still_reads(folder, tmp_path):
    import shutil

    old = Path(shutil.copytree(folder, tmp_path / 'old'))
    cfg = json.loads((old / 'config.json').read_text())
    cfg['model_args']['num_classes'] = cfg['num_classes']
    (old / 'config.json').write_text(json.dumps(cfg))
    kwargs = timm_create_kwargs(old)
    assert kwargs['num_classes'] == 10
    model = timm.create_model(**kwargs).eval()
    config, checkpoint = convert_timm_to_mm(old, tmp_path / 'mm')
    assert config.suffix == '.json' and checkpoint.is_file() and model.num_classes == 10


def test_without_the_import_transformers_does_not_know_the_architecture(folder):
    # What a user sees without `import convattn_plugin`: transformers' own advice is to upgrade timm;
    # config.json's `requires` field and the model card say to import convattn_plugin instead.
    code = ('import sys\nfrom transformers import AutoModelForImageClassification\n'
            'try:\n    AutoModelForImageClassification.from_pretrained(sys.argv[1])\n'
            'except ImportError as e:\n    print(e)\n')
    proc = subprocess.run([sys.executable, '-c', code, str(folder)], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    assert "The model architecture 'resnet18_cbam' is not supported" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert "import convattn_plugin" in (folder / 'README.md').read_text()
