"""List the timm models this package registers, by family and backbone, and which have weights.

    python -m convattn_plugin.models            # one name per line
    python -m convattn_plugin.models '*_cbam'   # timm's list_models filter syntax
    python -m convattn_plugin.models --markdown # the table of docs/models.md
    python -m convattn_plugin.models --kinds    # every kind: paper, timm names, tags with weights
    python -m convattn_plugin.models --weights  # every pretrained tag: file, source, licence, top-1

Every name is ``{backbone}_{kind}``: a backbone of a family (:data:`~convattn_plugin.models.FAMILIES`)
and a registered attention kind (``python -m convattn_plugin.layers``). The entry points are
generated, one per name, by :func:`~convattn_plugin.models.family.register_family_kind` when
``import convattn_plugin`` runs, so their names appear in no source file: ``docs/models.md``
lists every one of them. The tags of ``--weights`` are ``timm.list_pretrained()`` filtered to
these names; their source, file and licence come from the published-weights registry
(:mod:`~convattn_plugin.models.published_weights`), the top-1 as the authors report it.
"""
from __future__ import annotations

import argparse
import sys

import timm

from ..layers import get_attn_info, list_attentions
from . import FAMILIES, list_attn_models


def markdown_table() -> str:
    """One Markdown table per family: a row per backbone with all its names."""
    kinds = list_attentions()
    names = set(list_attn_models())
    lines = [f'{len(names)} names: {len(kinds)} kinds ({", ".join(kinds)}) on '
             f'{sum(len(f.archs) for f in FAMILIES)} backbones '
             f'({", ".join(f"{f.name} {len(f.archs)}" for f in FAMILIES)}).', '']
    for family in FAMILIES:
        lines += [f'### {family.name}', '', f'Registered by `{family.module}` (the family\'s `default_cfgs` and '
                  'entry points).', '', '| backbone | timm names |', '|---|---|']
        for arch in family.archs:
            row = [f'`{arch}_{kind}`' for kind in kinds if f'{arch}_{kind}' in names]
            lines.append(f'| `{arch}` | {" ".join(row)} |')
        lines.append('')
    return '\n'.join(lines)


def pretrained_tags() -> list[str]:
    """``model.tag`` of every pretrained tag of our models, as ``timm.list_pretrained`` lists them."""
    ours = set(list_attn_models())
    return [n for n in timm.list_pretrained() if n.split('.', 1)[0] in ours]


def weights_table() -> str:
    """A Markdown row per pretrained tag: reported top-1, file, source, licence."""
    from .published_weights import PUBLISHED

    tags = pretrained_tags()
    lines = [f'{len(tags)} pretrained tags (`timm.list_pretrained()` filtered to this package\'s models); '
             "top-1 as the authors report it on ImageNet-1k, not measured here.", '',
             '| tag | top-1 % | file | source | licence |', '|---|---|---|---|---|']
    for name in tags:
        entry = PUBLISHED.get(name)
        if entry is None:  # a tag registered some other way: what timm's cfg says
            cfg = timm.models.get_pretrained_cfg(name)
            lines.append(f'| `{name}` | - | {cfg.file or cfg.url or cfg.hf_hub_id or "-"} | - | {cfg.license or "-"} |')
            continue
        top1 = '-' if entry.top1 is None else f'{entry.top1:.2f}'
        lines.append(f'| `{name}` | {top1} | {entry.published_as} ({entry.download_url}) | {entry.repo_url} | '
                     f'{entry.license} |')
    return '\n'.join(lines)


def kinds_table() -> str:
    """A Markdown row per kind: paper, arXiv id, timm names per family, tags with weights."""
    names = set(list_attn_models())
    tags = pretrained_tags()
    kinds = list_attentions()
    lines = [f'{len(kinds)} kinds, {len(tags)} pretrained tags (`--weights` for files and licences).', '',
             '| kind | paper | arXiv | ' + ' | '.join(f'{f.name} names' for f in FAMILIES) + ' | tags with weights |',
             '|---|---|---|' + '---|' * len(FAMILIES) + '---|']
    for kind in kinds:
        info = get_attn_info(kind)
        counts = [sum(f'{arch}_{kind}' in names for arch in f.archs) for f in FAMILIES]
        models = {f'{arch}_{kind}' for f in FAMILIES for arch in f.archs}
        with_weights = [f'`{t}`' for t in tags if t.split('.', 1)[0] in models]
        lines.append(f'| `{kind}` | {info.paper or "-"} | {info.arxiv or "-"} | '
                     + ' | '.join(str(c) for c in counts) + f' | {" ".join(with_weights) or "-"} |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m convattn_plugin.models', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('filter', nargs='?', default='', help="timm's list_models filter, e.g. '*_cbam'")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument('--markdown', action='store_true', help='print the tables of docs/models.md')
    shown.add_argument('--kinds', action='store_true',
                       help='print every kind: paper, arXiv id, timm names per family, tags with weights')
    shown.add_argument('--weights', action='store_true',
                       help='print every pretrained tag: reported top-1, file, source, licence')
    args = parser.parse_args(argv)
    table = markdown_table if args.markdown else kinds_table if args.kinds else weights_table if args.weights else None
    if table is not None:
        if args.filter:
            parser.error('--markdown, --kinds and --weights print everything; give no filter')
        print(table())
        return 0
    names = list_attn_models(args.filter)
    if not names:
        print(f'no model matches {args.filter!r}', file=sys.stderr)
        return 1
    print('\n'.join(names))
    return 0


if __name__ == '__main__':
    sys.exit(main())
