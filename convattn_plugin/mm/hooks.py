"""``EpochSeedHook``: makes a resumed run draw the same random augmentations.

mmengine seeds the random generators once, when the runner starts, and does not save
their state in checkpoints. With ``num_workers=0`` the data pipeline's random transforms
(``RandomCrop``, ...) run in the main process on numpy's global generator, so a run
resumed at epoch ``e`` would draw different augmentations from the uninterrupted run,
and end with different weights. This hook reseeds ``random``, ``numpy`` and ``torch``
before every training epoch from ``(seed, epoch, rank)``, so each epoch's draws depend
only on those. (With ``num_workers > 0`` the workers are seeded by mmengine's
``worker_init_fn``; the hook is then harmless.)
"""
from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['EpochSeedHook', 'epoch_seed']


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of one rank's epoch: distinct for every (seed, epoch, rank)."""
    return (int(seed) * 1_000_003 + (epoch + 1) * 10_007 + rank) % (2 ** 32)


@HOOKS.register_module(force=True)
class EpochSeedHook(Hook):
    """Reseed ``random``, ``numpy`` and ``torch`` from ``(seed, epoch, rank)`` each epoch."""

    priority = 'VERY_HIGH'

    def before_train_epoch(self, runner) -> None:
        seed = epoch_seed(runner.seed, runner.epoch, get_rank())
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
