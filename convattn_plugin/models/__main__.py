"""List the timm models this package registers, by family and backbone.

    python -m convattn_plugin.models            # one name per line
    python -m convattn_plugin.models '*_cbam'   # timm's list_models filter syntax
    python -m convattn_plugin.models --markdown # the table of docs/models.md

Every name is ``{backbone}_{kind}``: a backbone of a family (:data:`~convattn_plugin.models.FAMILIES`)
and a registered attention kind (``python -m convattn_plugin.layers``). The entry points are
generated, one per name, by :func:`~convattn_plugin.models.family.register_family_kind` when
``import convattn_plugin`` runs, so their names appear in no source file: ``docs/models.md``
lists every one of them.
"""
from __future__ import annotations

import argparse
import sys

from ..layers import list_attentions
from . import FAMILIES, list_attn_models


def markdown_table() -> str:
    """One Markdown table per family: a row per backbone with all its names."""
    kinds = list_attentions()
    names = set(list_attn_models())
    lines = [f'{len(names)} names: {len(kinds)} kinds ({", ".join(kinds)}) on '
             f'{sum(len(f.archs) for f in FAMILIES)} backbones.', '']
    for family in FAMILIES:
        lines += [f'### {family.name}', '', f'Registered by `{family.module}` (the family\'s `default_cfgs` and '
                  'entry points).', '', '| backbone | timm names |', '|---|---|']
        for arch in family.archs:
            row = [f'`{arch}_{kind}`' for kind in kinds if f'{arch}_{kind}' in names]
            lines.append(f'| `{arch}` | {" ".join(row)} |')
        lines.append('')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m convattn_plugin.models', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('filter', nargs='?', default='', help="timm's list_models filter, e.g. '*_cbam'")
    parser.add_argument('--markdown', action='store_true', help='print the tables of docs/models.md')
    args = parser.parse_args(argv)
    if args.markdown:
        if args.filter:
            parser.error('--markdown prints every name; give no filter')
        print(markdown_table())
        return 0
    names = list_attn_models(args.filter)
    if not names:
        print(f'no model matches {args.filter!r}', file=sys.stderr)
        return 1
    print('\n'.join(names))
    return 0


if __name__ == '__main__':
    sys.exit(main())
