"""The README's model table (convattn_plugin.analysis.model_table)."""
from __future__ import annotations

import pytest

from convattn_plugin.analysis.model_table import family_table, model_tables
from convattn_plugin.layers import list_attentions


def test_resnet18_table_has_every_kind_and_the_plain_row():
    lines = family_table('resnet18', 64)
    kinds = list_attentions()
    assert len(lines) == 5 + len(kinds)
    assert lines[4].startswith('| `resnet18` (plain) | - | 11.69 |')
    assert [line.split('`')[1] for line in lines[5:]] == [f'resnet18_{k}' for k in kinds]
    cbam = next(line for line in lines if line.startswith('| `resnet18_cbam`'))
    assert cbam.split('|')[2].strip() == 'every block of layer1-4'
    bam = next(line for line in lines if line.startswith('| `resnet18_bam`'))
    assert bam.split('|')[2].strip() == 'after layer1-3'  # BAM's paper: between stages
    # The pretrained column lists the depths with the authors' weights and their reported top-1.
    from convattn_plugin.models.published_weights import get_published

    eca = next(line for line in lines if line.startswith('| `resnet18_eca`'))
    cell = eca.split('|')[8].strip()
    assert cell.startswith('18: ') and [c.split(':')[0] for c in cell.split(', ')] == ['18', '34', '50', '101', '152']
    assert cell.split(', ')[0] == f"18: {get_published('resnet18_eca.bangguwu_in1k').top1:.2f}"
    coord = next(line for line in lines if line.startswith('| `resnet18_coord`'))
    assert coord.split('|')[8].strip() == '-'
    assert eca.count('|') == 9 and family_table('vgg11', 64)[-1].count('|') == 8  # VGG: no such column


def test_bad_backbone_and_size_are_refused():
    with pytest.raises(ValueError, match="backbone must be one of .*got 'resnet7'"):
        family_table('resnet7')
    with pytest.raises(ValueError, match='img_size must be a positive int, got 0'):
        model_tables(('resnet18',), 0)


def test_tool_refuses_a_zero_size_in_one_line():
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parents[1] / 'tools' / 'model_table.py'
    proc = subprocess.run([sys.executable, str(tool), '--img-size', '0'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert "argument --img-size: must be a positive integer, got '0'" in proc.stderr
