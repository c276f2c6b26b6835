"""Every ```python block of README.md runs, as written, in a fresh interpreter.

Each block runs on its own (its imports included) in an empty temporary folder. A block
that reads a file the README's own flow produces (a release of the main job) gets a stand-in
made here first, from random weights. A block may be left out only with an HTML comment on
the line before it, ``<!-- readme-test: skip <reason> -->``, for what truly needs a download;
the test reports those as skipped with the reason.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, NamedTuple

import pytest

README = Path(__file__).resolve().parents[1] / 'README.md'
SKIP = re.compile(r'<!--\s*readme-test:\s*skip\s+(?P<reason>.+?)\s*-->')


class Block(NamedTuple):
    line: int  # 1-based line of the opening fence
    code: str
    skip: str  # reason, or ''


def readme_blocks(text: str) -> list[Block]:
    """The ```python blocks of ``text``, with a skip reason from the comment just before one."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() == '```python':
            start, body = i, []
            i += 1
            while i < len(lines) and lines[i].strip() != '```':
                body.append(lines[i])
                i += 1
            before = lines[start - 1] if start else ''
            match = SKIP.search(before)
            blocks.append(Block(start + 1, textwrap.dedent('\n'.join(body)) + '\n', match['reason'] if match else ''))
        i += 1
    return blocks


def _timm_release(folder: Path) -> None:
    """A stand-in for a release's ``timm/`` folder: timm's own files, random weights.

    As a release does, ``config.json`` names ``num_classes`` once, at the top level
    (transformers passes it next to ``model_args``).
    """
    import timm
    from timm.models import save_for_hf

    import convattn_plugin  # noqa: F401
    model = timm.create_model('resnet18_cbam', num_classes=10, pretrained_cfg_overlay=dict(input_size=(3, 32, 32)))
    save_for_hf(model, str(folder), safe_serialization='both')
    config = json.loads((folder / 'config.json').read_text())
    config['model_args'].pop('num_classes')
    (folder / 'config.json').write_text(json.dumps(config))


# Files a block reads that the README's flow makes elsewhere: marker in the block -> maker.
STAND_INS: dict[str, Callable[[Path], None]] = {
    'releases/resnet18-cbam_1xb32_digits/timm': _timm_release,
}

BLOCKS = readme_blocks(README.read_text())


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 5
    assert all(b.code.strip() for b in BLOCKS)


@pytest.mark.parametrize('block', BLOCKS, ids=[f'line{b.line}' for b in BLOCKS])
def test_readme_block_runs(block, tmp_path):
    if block.skip:
        pytest.skip(f'README.md line {block.line}: {block.skip}')
    for marker, make in STAND_INS.items():
        if marker in block.code:
            make(tmp_path / marker)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'PYTHONPATH': str(README.parent)}
    result = subprocess.run([sys.executable, '-c', block.code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f'README.md line {block.line} failed:\n{block.code}\n{result.stderr[-3000:]}'


def test_skip_marker_is_read():
    text = 'x\n<!-- readme-test: skip needs the ImageNet download -->\n```python\nprint(1)\n```\n```python\nprint(2)\n```\n'
    assert readme_blocks(text) == [Block(3, 'print(1)\n', 'needs the ImageNet download'), Block(6, 'print(2)\n', '')]
