"""Test with mmpretrain's ``tools/test.py``, plus what it lacks.

Same options as mmpretrain's (its ``parse_args`` and ``merge_args`` are reused). Added:
distributed testing on CPU-only machines (gloo; see ``convattn_plugin.mm.dist``), the
metrics printed as one JSON line (``{"accuracy/top1": ...}``) for scripts, and the checkpoint
checked before anything is built: a hash in its name must match its sha256, an empty file or
a folder is named as such, and an http(s) URL is downloaded and loaded with weights_only=True.
A ``.json`` config is a release's: it is read as data in the release config schema (nothing
imported, no ``_base_`` followed); give its data set's folder with
``--cfg-options test_dataloader.dataset.data_root=DIR`` where the data set needs one.

    python tools/test.py CONFIG CHECKPOINT [--out metrics.json --out-item metrics]
"""
import json
import sys

import mmengine
import torch
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from convattn_plugin.checkpoint import local_checkpoint
from convattn_plugin.mm.config_schema import UnsafeReleaseError, config_from_file
from convattn_plugin.mm.dist import setup_cpu_distributed
from convattn_plugin.mm.mmpretrain_tools import load_mmpretrain_tool


def main() -> None:
    tool = load_mmpretrain_tool('test')  # mmpretrain's own tools/test.py: its parse_args and merge_args
    args = tool.parse_args()
    if args.out is None and args.out_item is not None:
        raise ValueError('Please use `--out` argument to specify the '
                         'path of the output file before using `--out-item`.')
    if '://' not in args.checkpoint or args.checkpoint.startswith(('http://', 'https://')):
        try:
            local_checkpoint(args.checkpoint)  # mmengine reads it again (the URL from the download cache)
        except (ValueError, OSError) as e:
            sys.exit(f'test.py: error: {e}')
    try:
        cfg = config_from_file(args.config)
    except UnsafeReleaseError as e:
        sys.exit(f'test.py: error: {e}')
    cfg = tool.merge_args(cfg, args)
    if args.launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if args.out and args.out_item in ['pred', None]:
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    if runner.rank == 0:
        print(json.dumps({k: float(v) for k, v in metrics.items()}))


if __name__ == '__main__':
    main()
