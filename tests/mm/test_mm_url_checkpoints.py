"""mmengine and mmpretrain load checkpoint URLs safely once ``convattn_plugin.mm`` is imported:
``load_checkpoint``, ``init_cfg=dict(type='Pretrained')`` and ``get_model(pretrained=url)`` all
download to a file and unpickle with ``weights_only=True``; a crafted pickle never runs."""
from __future__ import annotations


import pytest
import torch

import convattn_plugin.mm  # noqa: F401  (registers the safe URL loaders)
from convattn_plugin.checkpoint import HashMismatchError, UnsafeCheckpointError, sha256_of

NAME = 'resnet18-cbam_1xb32_digits'


@pytest.fixture
def served(served, hub_dir):
    """The shared local server, with torch's hub cache in the test's folder."""
    return served


def _backbone(init_cfg=None):
    from mmengine.registry import MODELS

    return MODELS.build(dict(type='ConvAttnBackbone', arch='resnet18_cbam', out_indices=(3,), init_cfg=init_cfg))


def _load_ways(url):
    """The three ways a user hands mmengine a URL."""
    import mmpretrain
    from mmengine.runner import load_checkpoint

    def by_load_checkpoint():
        model = _backbone()
        load_checkpoint(model, url, map_location='cpu')
        return model

    def by_init_cfg():
        model = _backbone(dict(type='Pretrained', checkpoint=url))
        model.init_weights()
        return model

    def by_get_model():
        return mmpretrain.get_model(NAME, pretrained=url).backbone

    return dict(load_checkpoint=by_load_checkpoint, init_cfg=by_init_cfg, get_model=by_get_model)


@pytest.mark.parametrize('way', ['load_checkpoint', 'init_cfg', 'get_model'])
def test_a_crafted_pickle_at_a_url_never_runs(served, tmp_path, way, code_running_pickle):
    root, base = served
    marker = tmp_path / 'marker'
    torch.save({'state_dict': code_running_pickle(marker)}, root / 'evil.pth')
    with pytest.raises(UnsafeCheckpointError, match='refused: the file holds objects other than weights'):
        _load_ways(f'{base}/evil.pth')[way]()
    assert not marker.exists()


@pytest.mark.parametrize('way', ['load_checkpoint', 'init_cfg', 'get_model'])
def test_weights_at_a_url_load_and_a_wrong_hash_is_refused(served, way):
    import mmpretrain

    root, base = served
    source = mmpretrain.get_model(NAME)
    plain = root / 'plain.pth'
    torch.save({'state_dict': source.state_dict() if way == 'get_model' else source.backbone.state_dict(),
                'meta': {}}, plain)
    good = root / f'w-{sha256_of(plain)[:8]}.pth'
    good.write_bytes(plain.read_bytes())
    model = _load_ways(f'{base}/{good.name}')[way]()
    got, ref = model.state_dict(), source.backbone.state_dict()
    assert all(torch.equal(got[k], ref[k]) for k in ref)

    bad = root / 'w-0123abcd.pth'
    bad.write_bytes(plain.read_bytes())
    with pytest.raises(HashMismatchError, match='its name says sha256 0123abcd'):
        _load_ways(f'{base}/{bad.name}')[way]()


def test_a_local_empty_checkpoint_is_named_through_mmengine(tmp_path):
    from mmengine.runner import load_checkpoint

    empty = tmp_path / 'epoch_1.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=r"epoch_1\.pth' is empty \(0 bytes\)"):
        load_checkpoint(_backbone(), str(empty))


def test_the_test_tool_checks_the_hash_in_the_checkpoint_name(tmp_path, kit):
    bad = tmp_path / 'resnet18-cbam_digits_20240131-0123abcd.pth'
    torch.save({'state_dict': {}, 'meta': {}}, bad)
    proc = kit.run_tool([kit.PY, str(kit.TOOLS / 'test.py'), str(kit.CFG_CBAM), str(bad)], kit.child_env(),
                        expect_rc=1)
    assert 'test.py: error:' in proc.stderr and 'its name says sha256 0123abcd' in proc.stderr
