"""``publish(push=True)`` uploads the timm folder byte for byte as verified; without a token it
fails before anything is written."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

pytest.importorskip('mmpretrain')

import convattn_plugin.mm  # noqa: E402,F401
from convattn_plugin.release import PublishError, build_mm_model, publish  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CFG = REPO / 'configs/resnet_cbam/resnet18-cbam_1xb32_digits.py'

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    torch.save({'state_dict': build_mm_model(CFG).state_dict(), 'meta': {'epoch': 1}}, path)
    return path


# --------------------------------------------------------------------------------------
# The Hub folder is uploaded as verified; --push fails clearly offline
# --------------------------------------------------------------------------------------

class _FakeHfApi:
    """Stands in for huggingface_hub.HfApi: records the upload."""
    uploaded: dict[str, bytes] = {}

    def __init__(self, token=None, **kwargs):
        assert token == 'hf_test_token'

    def create_repo(self, repo_id, private=False, exist_ok=True):
        return SimpleNamespace(repo_id=repo_id)

    def upload_folder(self, repo_id, folder_path, **kwargs):
        type(self).uploaded = {p.name: p.read_bytes() for p in Path(folder_path).iterdir()}
        return SimpleNamespace(commit_url=f'https://huggingface.co/{repo_id}/commit/0')


def test_push_uploads_exactly_the_timm_folder(checkpoint, tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, 'HfApi', _FakeHfApi)
    out = tmp_path / 'pushed'
    rel = publish(checkpoint, CFG, out, repo_id='someone/resnet18-cbam-digits', push=True,
                  token='hf_test_token')
    assert rel.hub_url == 'https://huggingface.co/someone/resnet18-cbam-digits/commit/0'
    local = {p.name: p.read_bytes() for p in rel.timm_dir.iterdir()}
    assert sorted(_FakeHfApi.uploaded) == sorted(local) == ['README.md', 'config.json', 'model.safetensors']
    assert _FakeHfApi.uploaded == local  # byte for byte what was verified
    assert "timm.create_model('hf-hub:someone/resnet18-cbam-digits', pretrained=True)" in local['README.md'].decode()
    from safetensors.torch import load as load_safetensors
    pushed = load_safetensors(_FakeHfApi.uploaded['model.safetensors'])
    kept = load_safetensors(local['model.safetensors'])
    assert pushed.keys() == kept.keys() and all(torch.equal(pushed[k], kept[k]) for k in kept)


def test_push_without_token_fails_before_writing(checkpoint, tmp_path, monkeypatch):
    import huggingface_hub

    monkeypatch.delenv('HF_TOKEN', raising=False)
    monkeypatch.setattr(huggingface_hub, 'get_token', lambda: None)
    with pytest.raises(PublishError, match='needs a Hugging Face token'):
        publish(checkpoint, CFG, tmp_path / 'out', repo_id='someone/x', push=True)
    with pytest.raises(PublishError, match='--push needs --repo-id'):
        publish(checkpoint, CFG, tmp_path / 'out', push=True)
    assert not (tmp_path / 'out').exists()
