"""Run one of mmpretrain's packaged tools with the project's OpenMMLab side registered.

    python -m convattn_plugin.mm TOOL [ARGS ...]

TOOL is a path inside mmpretrain's ``tools/`` folder, e.g.::

    python -m convattn_plugin.mm model_converters/publish_model work_dirs/run/epoch_5.pth out.pth
    python -m convattn_plugin.mm analysis_tools/get_flops CONFIG --shape 32

Tools that read a config find the plugin through its ``custom_imports`` anyway; the ones
that read only a checkpoint (``publish_model``) need this wrapper to load the project's
training checkpoints (``weights_only=True`` on torch >= 2.6). Every existing ``.json``
argument is read as a release config (the closed schema; nothing imported); the tool gets a
checked copy. ``--list`` prints the tools.
"""
from __future__ import annotations

import sys

from .config_schema import UnsafeReleaseError
from .mmpretrain_tools import list_mmpretrain_tools, run_mmpretrain_tool


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ('-h', '--help'):
        print(__doc__.strip())
        return 0 if argv else 2
    if argv[0] == '--list':
        print('\n'.join(list_mmpretrain_tools()))
        return 0
    try:
        run_mmpretrain_tool(argv[0], argv[1:])
    except UnsafeReleaseError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
