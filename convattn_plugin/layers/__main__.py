"""Print every attention kind with its paper and parameter count.

    python -m convattn_plugin.layers [--channels 256] [--markdown]
"""
from __future__ import annotations

import argparse

from .registry import create_attn, get_attn_info, list_attentions


def attention_table(channels: int) -> list[dict]:
    """One row per registered kind: name, paper, arXiv id, params at ``channels``, placement."""
    rows = []
    for name in list_attentions():
        info = get_attn_info(name)
        module = create_attn(name, channels)
        rows.append(dict(
            kind=name,
            paper=info.paper,
            arxiv=info.arxiv,
            params=sum(p.numel() for p in module.parameters()),
            placement=info.default_placement,
        ))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog='python -m convattn_plugin.layers', description=__doc__.splitlines()[0])
    parser.add_argument('--channels', type=int, default=256, help='channel count for the parameter column')
    parser.add_argument('--markdown', action='store_true', help='print a Markdown table (as in docs/layers.md)')
    args = parser.parse_args(argv)
    rows = attention_table(args.channels)
    header = ['kind', 'paper', 'arXiv', f'params @ C={args.channels}', 'default placement']
    lines = [[r['kind'], r['paper'], r['arxiv'] or '-', f"{r['params']:,}", r['placement']] for r in rows]
    if args.markdown:
        print('| ' + ' | '.join(header) + ' |')
        print('|' + '---|' * len(header))
        for line in lines:
            print('| ' + ' | '.join(line) + ' |')
        return
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    for line in [header, *lines]:
        print('  '.join(str(c).ljust(wd) for c, wd in zip(line, widths)))


if __name__ == '__main__':
    main()
