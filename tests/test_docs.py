"""The README and every page under ``docs/``: their Python runs, their links lead somewhere.

Every ```python block of README.md and of ``docs/*.md`` runs, as written, in a fresh interpreter:
each on its own (its imports included) in an empty temporary folder. A block that reads a file
the documented flow produces (a release of the main job) gets a stand-in made here first, from
random weights. A block may be left out only with an HTML comment on the line before it,
``<!-- readme-test: skip <reason> -->``, for what truly needs a download or hardware the default
suite does not have; the test reports those as skipped with the reason. Blocks in other
languages (```bash: commands that train for minutes, or need a GPU) are not run.

The links: every relative link and image of those pages (and of the configs' READMEs) names a
file that exists, and a ``#anchor`` a heading of its page; every page is linked from
``docs/index.md``.
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

REPO = Path(__file__).resolve().parents[1]
README = REPO / 'README.md'
DOCS = REPO / 'docs'
PAGES = [README, *sorted(DOCS.glob('*.md'))]
SKIP = re.compile(r'<!--\s*readme-test:\s*skip\s+(?P<reason>.+?)\s*-->')
LINK = re.compile(r'\[[^\]]*\]\((?P<target>[^)\s]+)\)')


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


# Files a block reads that the documented flow makes elsewhere: marker in the block -> maker.
STAND_INS: dict[str, Callable[[Path], None]] = {
    'releases/resnet18-cbam_1xb32_digits/timm': _timm_release,
}


def _rel(page: Path) -> str:
    return page.relative_to(REPO).as_posix()


BLOCKS = [(page, block) for page in PAGES for block in readme_blocks(page.read_text())]


def test_readme_shows_the_three_snippets():
    """timm, mmpretrain, ``add_attention``: the README's three, the rest is in docs/."""
    code = [b.code for b in readme_blocks(README.read_text())]
    assert len(code) == 3, code
    assert 'timm.create_model' in code[0] and 'mmpretrain' in code[1] and 'add_attention' in code[2]
    assert all(b.code.strip() for _, b in BLOCKS)


@pytest.mark.parametrize('page, block', BLOCKS, ids=[f'{_rel(p)}:line{b.line}' for p, b in BLOCKS])
def test_block_runs(page, block, tmp_path):
    where = f'{_rel(page)} line {block.line}'
    if block.skip:
        pytest.skip(f'{where}: {block.skip}')
    for marker, make in STAND_INS.items():
        if marker in block.code:
            make(tmp_path / marker)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'PYTHONPATH': str(REPO)}
    result = subprocess.run([sys.executable, '-c', block.code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f'{where} failed:\n{block.code}\n{result.stderr[-3000:]}'


def test_skip_marker_is_read():
    text = 'x\n<!-- readme-test: skip needs the ImageNet download -->\n```python\nprint(1)\n```\n```python\nprint(2)\n```\n'
    assert readme_blocks(text) == [Block(3, 'print(1)\n', 'needs the ImageNet download'), Block(6, 'print(2)\n', '')]


def test_readme_keeps_the_commands_ci_follows():
    """``.ci/run`` runs the README's test command; newcomers copy the main-job command."""
    text = README.read_text()
    install = 'python3 -m venv .venv && .venv/bin/pip install -e ".[all]"'
    assert f'{install} && .venv/bin/python tools/digits_compare.py' in text
    assert f'{install} && .venv/bin/python -m pytest -q' in text
    ci = (REPO / '.ci' / 'run').read_text()
    assert '.venv/bin/pip install -q -e ".[all]"' in ci and '.venv/bin/python -m pytest -q' in ci


def test_readme_is_a_front_door():
    """The reference lives in docs/ (one topic per page); the README points there."""
    size = len(README.read_bytes())
    assert size <= 12 * 1024, f'README.md is {size} bytes; move reference text to a page under docs/'
    assert '(docs/index.md)' in README.read_text()


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'`|\*\*|\[([^\]]*)\]\([^)]*\)', r'\1', heading.strip().lower())
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


def _anchors(page: Path) -> set[str]:
    """Anchors of a page's headings (outside code blocks); GitHub adds -1, -2 to repeats."""
    anchors: set[str] = set()
    count: dict[str, int] = {}
    fenced = False
    for line in page.read_text().splitlines():
        if line.startswith('```'):
            fenced = not fenced
        elif not fenced and re.match(r'#{1,6} ', line):
            slug = _slug(line.lstrip('#'))
            anchors.add(f'{slug}-{count[slug]}' if slug in count else slug)
            count[slug] = count.get(slug, 0) + 1
    return anchors


def test_slug_matches_github():
    assert _slug(" Start from the authors' weights") == 'start-from-the-authors-weights'
    assert _slug(' Which attention helps, and at what cost: the leaderboard') == \
        'which-attention-helps-and-at-what-cost-the-leaderboard'
    assert _slug(" timm's own scripts") == 'timms-own-scripts'
    assert _slug(' `add_attention` into any backbone') == 'add_attention-into-any-backbone'


def _links(page: Path) -> list[str]:
    """Link and image targets of a page, outside fenced code blocks and inline code."""
    text, fenced = [], False
    for line in page.read_text().splitlines():
        if line.startswith('```'):
            fenced = not fenced
        elif not fenced:
            text.append(re.sub(r'`+[^`\n]*`+', '', line))
    return [m['target'] for m in LINK.finditer('\n'.join(text))]


CONFIG_READMES = sorted((REPO / 'configs').glob('**/README.md'))


@pytest.mark.parametrize('page', PAGES + CONFIG_READMES, ids=_rel)
def test_local_links_resolve(page):
    broken = []
    for target in _links(page):
        if re.match(r'[a-z]+:', target):  # https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f'{target} (no file {dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest})')
        elif anchor and dest.suffix == '.md' and anchor not in _anchors(dest):
            broken.append(f'{target} (no heading #{anchor} in {_rel(dest)})')
    assert not broken, f'{_rel(page)}: broken links: {broken}'


def test_every_docs_page_is_in_the_index():
    linked = {(DOCS / t.partition('#')[0]).resolve() for t in _links(DOCS / 'index.md') if not re.match(r'[a-z]+:', t)}
    missing = [_rel(p) for p in DOCS.glob('*.md') if p.name != 'index.md' and p.resolve() not in linked]
    assert not missing, f'docs/index.md does not link {missing}'


def test_model_list_is_what_the_command_prints():
    """docs/models.md lists every registered name (``git grep resnet18_cbam`` finds it there)."""
    from convattn_plugin.models import list_attn_models
    from convattn_plugin.models.__main__ import markdown_table

    text = (DOCS / 'models.md').read_text()
    assert 'printed by\n`python -m convattn_plugin.models --markdown`' in text or \
        'printed by `python -m convattn_plugin.models --markdown`' in text
    assert text.rstrip().endswith(markdown_table().rstrip()), (
        'docs/models.md differs from `python -m convattn_plugin.models --markdown`; paste its output')
    assert all(f'`{name}`' in text for name in list_attn_models())


def test_layer_table_is_what_the_command_prints():
    """docs/layers.md says its table is printed by ``python -m convattn_plugin.layers --markdown``."""
    printed = subprocess.run([sys.executable, '-m', 'convattn_plugin.layers', '--markdown'], capture_output=True,
                             text=True, timeout=300, env={**os.environ, 'OMP_NUM_THREADS': '1'}, cwd=REPO)
    assert printed.returncode == 0, printed.stderr[-3000:]
    rows = [line for line in printed.stdout.splitlines() if line.startswith('|')]
    text = (DOCS / 'layers.md').read_text()
    assert 'printed by `python -m convattn_plugin.layers --markdown`' in text
    section = text.split('## The kinds', 1)[1]
    shown = [line for line in section.splitlines() if line.startswith('|')]
    missing, stale = [r for r in rows if r not in shown], [r for r in shown if r not in rows]
    assert not missing and not stale, (
        'docs/layers.md "The kinds" differs from `python -m convattn_plugin.layers --markdown`; paste its output.\n'
        f'missing: {missing}\nnot printed: {stale}')


def _command_blocks(text: str) -> list[str]:
    """The bodies of the ```bash blocks of ``text`` (commands the pages tell you to run)."""
    return re.findall(r'^```bash\n(.*?)^```', text, flags=re.S | re.M)


@pytest.mark.parametrize('page', PAGES, ids=_rel)
def test_commands_name_files_that_exist(page):
    """Every ``tools/...`` script and ``configs/...`` file a command names is in the repository."""
    named = {m for block in _command_blocks(page.read_text())
             for m in re.findall(r'(?<![\w/.-])((?:tools|configs)/[\w./-]+\.(?:py|sh))', block)}
    missing = sorted(p for p in named if not (REPO / p).is_file())
    assert not missing, f'{_rel(page)}: commands name files that do not exist: {missing}'


def test_command_blocks_are_found():
    assert _command_blocks('a\n```bash\npython tools/x.py\n```\n```python\ny\n```\n') == ['python tools/x.py\n']
    assert any('tools/digits_compare.py' in b for b in _command_blocks(README.read_text()))
