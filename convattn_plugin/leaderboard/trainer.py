"""Train and test one leaderboard run in this process, through mmengine's ``Runner``.

The run trains from scratch, then tests once on the test split; its result holds the
top-1 accuracy, the wall time and the CPU time of the process (on an idle machine with
one thread per run the two agree; on a shared one the CPU time is the better guide to
what the run would take alone).
"""
from __future__ import annotations

import hashlib
import os
import time
import uuid
from typing import Any, Optional

import torch

from .plan import RunSpec
from .progress import TrainProgressHook
from .recipes import run_config

__all__ = ['train_run', 'weights_fingerprint']


def _top1(metrics: dict) -> float:
    for key in ('accuracy/top1', 'top1'):
        if key in metrics:
            return float(metrics[key])
    raise KeyError(f'the test metrics have no top-1 accuracy: {sorted(metrics)}')


def weights_fingerprint(model: torch.nn.Module) -> str:
    """sha256 of every parameter and buffer, in ``state_dict`` order: equal runs give equal prints."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def train_run(spec: RunSpec, data: str, profile: str, work_dir: str, data_root: Optional[str] = None,
              cfg_options: Optional[dict] = None, progress: bool = True, threads: Optional[int] = None
              ) -> dict[str, Any]:
    """Train ``spec`` with the recipe of ``data`` / ``profile`` and test it.

    The result records a fingerprint of the trained weights: on one machine the same
    seed gives the same fingerprint (and top-1) with the CPU recipes.

    Args:
        spec: The model (kind) and seed.
        data, profile: Which recipe (see :mod:`.recipes`).
        work_dir: The sweep's folder; the run logs under ``<work_dir>/logs/<model>/seed<seed>``.
        data_root: Folder of the data files, if not the recipe's.
        cfg_options: Further config overrides (``{dotted.key: value}``).
        progress: Show a progress bar over the run's iterations.
        threads: torch intra-op threads for this run (``None``: leave as set).

    Returns:
        ``top1`` (percent) and the run's facts: times, iterations, epochs, the recipe.
    """
    from mmengine.runner import Runner

    import convattn_plugin.mm  # noqa: F401 - registers backbones, data sets and hooks

    run_dir = os.path.join(work_dir, 'logs', spec.model, f'seed{spec.seed}')
    cfg = run_config(data, profile, spec.kind, spec.seed, run_dir, data_root, cfg_options)
    # A unique name: mmengine keys its logger and visualizer instances by it.
    cfg.experiment_name = f'{spec.model}_seed{spec.seed}_{uuid.uuid4().hex[:8]}'
    cfg.log_level = 'WARNING'  # the terminal shows the progress bars; numbers go to the result
    if threads is not None:
        torch.set_num_threads(int(threads))
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        runner = Runner.from_cfg(cfg)
        if cfg.get('channels_last', False):
            runner.model.to(memory_format=torch.channels_last)
        runner.register_hook(TrainProgressHook(f'{spec.model} seed {spec.seed}', enabled=progress), 'LOWEST')
        model = runner.train()
        fingerprint = weights_fingerprint(model)
        train_wall = time.perf_counter() - wall0
        metrics = runner.test()
    finally:
        # mmengine's deterministic=True switches this on for the whole process.
        torch.use_deterministic_algorithms(deterministic_before)
    return dict(
        top1=_top1(metrics), weights_sha256=fingerprint, data=data, profile=profile,
        recipe=os.path.basename(cfg.filename), epochs=int(runner.max_epochs), iterations=int(runner.iter),
        train_wall_s=round(train_wall, 2),
        wall_s=round(time.perf_counter() - wall0, 2), cpu_s=round(time.process_time() - cpu0, 2),
        threads=torch.get_num_threads(), train_images=len(runner.train_dataloader.dataset),
        test_images=len(runner.test_dataloader.dataset), cfg_options=dict(cfg_options or {}),
        torch=torch.__version__, device='cuda' if torch.cuda.is_available() and profile == 'gpu' else 'cpu')
