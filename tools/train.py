"""Train with mmpretrain's ``tools/train.py``, plus what it lacks.

Same options as mmpretrain's (its ``parse_args`` and ``merge_args`` are reused). Added:
distributed training on CPU-only machines (``--launcher pytorch|slurm`` without CUDA:
gloo, and DDP without device ids; see ``convattn_plugin.mm.dist``). With CUDA nothing
changes: mmengine's NCCL path runs as configured. ``--resume`` continues from the newest
intact checkpoint (a torn newest one is skipped with a warning) and is an error when there is
none; a run without ``--resume`` never overwrites the checkpoints of another run in its work
dir (see ``convattn_plugin.mm.resume``).

    python tools/train.py configs/resnet_cbam/resnet18-cbam_1xb32_digits.py
    torchrun --nproc_per_node=2 tools/train.py CONFIG --launcher pytorch
"""
import sys

import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from convattn_plugin.mm.dist import setup_cpu_distributed
from convattn_plugin.mm.mmpretrain_tools import load_mmpretrain_tool
from convattn_plugin.mm.resume import ResumeError, prepare_resume


def main() -> None:
    tool = load_mmpretrain_tool('train')  # mmpretrain's own tools/train.py: its parse_args and merge_args
    args = tool.parse_args()
    if args.config.endswith('.json'):
        # A .json config is a release's (data, no training recipe); mmengine would follow its
        # _base_ and import its custom_imports.
        sys.exit(f'train.py: error: {args.config} is a JSON config: JSON configs are release configs (data for '
                 'testing and inference, no training recipe) and are not trained from. Train with your own Python '
                 'config; to start from a release\'s weights, set load_from=<the release checkpoint> in it')
    cfg = tool.merge_args(Config.fromfile(args.config), args)
    try:
        prepare_resume(cfg)
    except ResumeError as e:
        sys.exit(f'train.py: error: {e}')
    if args.launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
