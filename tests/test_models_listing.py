"""``python -m convattn_plugin.models --kinds / --weights``: which kinds exist and which have weights.

What the output must contain comes from the registries (kinds, families, published weights),
never from a list written here.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import timm

import convattn_plugin  # noqa: F401  (registers the models and the tags)
from convattn_plugin.layers import get_attn_info, list_attentions
from convattn_plugin.models import FAMILIES, list_attn_models
from convattn_plugin.models.__main__ import kinds_table, main, pretrained_tags, weights_table
from convattn_plugin.models.published_weights import get_published, list_published

pytestmark = pytest.mark.usefixtures('one_thread')


def _rows(table: str) -> dict[str, list[str]]:
    """Markdown rows keyed by their first cell without backticks."""
    rows = [[c.strip() for c in line.strip('|').split('|')] for line in table.splitlines() if line.startswith('| `')]
    return {r[0].strip('`'): r[1:] for r in rows}


def test_the_pretrained_tags_are_timms_and_the_published_ones():
    tags = pretrained_tags()
    assert sorted(tags) == list_published()  # every published tag is a timm pretrained tag, and only those
    assert all(timm.is_model(t) and t.split('.')[0] in list_attn_models() for t in tags)


def test_kinds_lists_every_kind_with_its_names_and_tags():
    rows = _rows(kinds_table())
    assert sorted(rows) == list_attentions()
    tags, names = list_published(), set(list_attn_models())
    for kind, cells in rows.items():
        info = get_attn_info(kind)
        assert cells[0] == (info.paper or '-') and cells[1] == (info.arxiv or '-')
        counts = [int(c) for c in cells[2:2 + len(FAMILIES)]]
        assert counts == [sum(f'{arch}_{kind}' in names for arch in f.archs) for f in FAMILIES]
        listed = set(cells[-1].replace('`', '').split()) - {'-'}
        assert listed == {t for t in tags if get_published(t).model.rsplit('_', 1)[1] == kind}, kind
    assert all(f'`{t}`' in kinds_table() for t in tags)


def test_weights_lists_every_tag_with_file_source_and_licence():
    rows = _rows(weights_table())
    assert sorted(rows) == list_published()
    for tag, (top1, file, source, licence) in rows.items():
        entry = get_published(tag)
        assert top1 == ('-' if entry.top1 is None else f'{entry.top1:.2f}')
        assert entry.published_as in file and entry.download_url in file
        assert source == entry.repo_url and licence == entry.license


def test_the_command_prints_the_tables_and_refuses_a_filter(capsys):
    assert main(['--weights']) == 0
    out = capsys.readouterr().out
    assert all(f'`{t}`' in out for t in list_published())
    with pytest.raises(SystemExit):
        main(['--kinds', '*_cbam'])
    assert 'give no filter' in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(['--kinds', '--weights'])
    assert e.value.code == 2 and 'argument --weights: not allowed with argument --kinds' in capsys.readouterr().err


def test_the_module_runs_as_a_command():
    printed = subprocess.run([sys.executable, '-m', 'convattn_plugin.models', '--kinds'], capture_output=True,
                             text=True, timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert printed.returncode == 0, printed.stderr[-3000:]
    assert sorted(_rows(printed.stdout)) == list_attentions()


@pytest.mark.parametrize('name, backbone_paper', [
    ('resnet50_cbam', 'arXiv:1512.03385'), ('resnext50_32x4d_cbam', 'arXiv:1611.05431'),
    ('vgg16_cbam', 'arXiv:1409.1556'), ('mobilenetv2_100_cbam', 'arXiv:1801.04381')])
def test_untrained_names_cite_their_backbone_and_kind(name, backbone_paper):
    assert timm.models.get_pretrained_cfg(name).paper_ids == (backbone_paper, 'arXiv:1807.06521')  # + CBAM's
