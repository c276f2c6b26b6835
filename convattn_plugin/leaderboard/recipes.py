"""The training recipe of each data set and profile, and the mmengine config of one run.

A recipe is a config in ``configs/leaderboard/`` named ``{model}_{data}_{profile}.py``;
a run's config is that file with the attention kind, the seed, the data folder and the
work folder set:

* ``cpu``: a quarter-width ResNet-18 (stage widths 16-128) sized so that the whole
  leaderboard fits a small CPU budget (see configs/leaderboard/README.md);
* ``gpu``: the full recipe: full-width ResNet-18 with the CIFAR-style stem on the
  28 px images, every training image, mixed precision and channels-last memory.

Every config sets ``input_shape`` (channels, height, width), the shape the model is
measured at for FLOPs and latency.
"""
from __future__ import annotations

import os
from typing import Optional

__all__ = ['DATA_SETS', 'PROFILES', 'recipe_path', 'run_config', 'check_profile_device']

DATA_SETS = ('digits', 'fashion-mnist')
PROFILES = ('cpu', 'gpu')
_RECIPES = {
    ('digits', 'cpu'): 'resnet18-w16_digits_cpu.py',
    ('digits', 'gpu'): 'resnet18-cifar_digits_gpu.py',
    ('fashion-mnist', 'cpu'): 'resnet18-w16_fashion-mnist_cpu.py',
    ('fashion-mnist', 'gpu'): 'resnet18-cifar_fashion-mnist_gpu.py',
}


def recipe_path(data: str, profile: str) -> str:
    """The config file of ``data`` and ``profile``."""
    if data not in DATA_SETS:
        raise ValueError(f'data must be one of {", ".join(DATA_SETS)}; got {data!r}')
    if profile not in PROFILES:
        raise ValueError(f'profile must be one of {", ".join(PROFILES)}; got {profile!r}')
    from ..mm.hub import configs_root

    root = configs_root()
    if root is None:
        raise FileNotFoundError('the project configs/ folder was not found: run from a checkout of the repository '
                                'or set CONVATTN_CONFIGS to its configs/ folder')
    path = os.path.join(str(root), 'leaderboard', _RECIPES[(data, profile)])
    if not os.path.isfile(path):
        raise FileNotFoundError(f'leaderboard recipe {path} is missing (configs folder {root})')
    return path


def check_profile_device(profile: str) -> None:
    """``RuntimeError`` for the GPU profile where torch sees no CUDA device."""
    import torch

    if profile == 'gpu' and not torch.cuda.is_available():
        raise RuntimeError('profile gpu needs a CUDA GPU, but torch.cuda.is_available() is False on this machine; '
                           'use --profile cpu')


def run_config(data: str, profile: str, kind: Optional[str], seed: int, work_dir: str,
               data_root: Optional[str] = None, cfg_options: Optional[dict] = None):
    """The mmengine ``Config`` of one run.

    Args:
        data: ``'digits'`` or ``'fashion-mnist'``.
        profile: ``'cpu'`` or ``'gpu'``.
        kind: Attention kind, ``None`` for the plain baseline.
        seed: Seed of mmengine's ``randomness``.
        work_dir: The run's own folder (logs).
        data_root: Folder of the data files (Fashion-MNIST); ``None`` keeps the recipe's.
        cfg_options: Further ``{dotted.key: value}`` overrides (e.g. a smaller subset).
    """
    from mmengine.config import Config

    from ..mm.backbones import check_attention

    cfg = Config.fromfile(recipe_path(data, profile))
    options = {'model.backbone.attention': check_attention(kind), 'randomness.seed': int(seed)}
    if data_root is not None:
        if data == 'digits':
            raise ValueError('data_root does not apply to digits (they ship inside scikit-learn)')
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(loader) is not None:  # the recipes switch validation off
                options[f'{loader}.dataset.data_root'] = str(data_root)
    options.update(cfg_options or {})
    cfg.merge_from_dict(options)
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    return cfg
