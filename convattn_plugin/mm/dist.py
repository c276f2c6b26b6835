"""Distributed training on CPU-only machines with mmengine 0.10.7 (gloo).

mmengine's ``init_dist`` calls ``torch.cuda.set_device(local_rank)`` for every backend,
and its ``Runner.wrap_model`` gives DDP ``device_ids=[local_rank]``: both fail without a
GPU. :func:`setup_cpu_distributed` initialises the gloo process group itself, before the
``Runner`` is built (mmengine then skips its own ``init_dist``), and asks for
``MMDistributedDataParallel`` with ``device_ids=None``. It is used by the project's
``tools/train.py`` and ``tools/test.py`` only when CUDA is unavailable, so GPU runs use
mmengine's own NCCL path unchanged.
"""
from __future__ import annotations

import os
import subprocess

import torch.distributed as torch_dist

__all__ = ['setup_cpu_distributed', 'slurm_env']


def slurm_env(port: int = 29500) -> dict[str, str]:
    """The ``torch.distributed`` environment of a slurm task (as mmengine's, with
    ``LOCAL_RANK = SLURM_LOCALID`` since there is no GPU count to divide by)."""
    node_list = os.environ['SLURM_NODELIST']
    addr = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
    return dict(
        MASTER_ADDR=os.environ.get('MASTER_ADDR', addr),
        MASTER_PORT=os.environ.get('MASTER_PORT', str(port)),
        WORLD_SIZE=os.environ['SLURM_NTASKS'],
        RANK=os.environ['SLURM_PROCID'],
        LOCAL_RANK=os.environ['SLURM_LOCALID'],
    )


def setup_cpu_distributed(cfg, launcher: str) -> None:
    """Initialise gloo for ``launcher`` and make ``cfg`` wrap the model for CPU DDP.

    Args:
        cfg: The mmengine ``Config`` about to build the ``Runner`` (changed in place:
            ``env_cfg.dist_cfg.backend='gloo'``, ``model_wrapper_cfg.device_ids=None``).
        launcher: ``'pytorch'`` (torchrun) or ``'slurm'``.
    """
    if launcher not in ('pytorch', 'slurm'):
        raise ValueError(f'CPU distributed training supports the pytorch and slurm launchers, not {launcher!r}')
    if launcher == 'slurm':
        os.environ.update(slurm_env())
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        kwargs = {}
        if dist_cfg.get('timeout') is not None:
            import datetime
            kwargs['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
        torch_dist.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel', broadcast_buffers=False)
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
