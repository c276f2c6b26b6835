"""What each leaderboard model costs next to the baseline: params, FLOPs and latency.

The models are built from the same recipe as the trained ones (untrained weights: cost
does not depend on them) and measured at the recipe's ``input_shape``, in its memory
format (channels-last where the recipe sets ``channels_last``):

* params: every parameter of the classifier (backbone, neck, head);
* FLOPs: :func:`convattn_plugin.analysis.flop_breakdown` per image, attention operators
  included (1 multiply-add = 2 FLOPs);
* latency: one eval forward of a batch under ``torch.inference_mode`` (timed by the
  process's CPU time when torch runs one CPU thread, else by wall time), in rounds
  in which every model runs once in a shuffled order, after a warm-up call each. The
  overhead is the median over rounds of ``t_model / t_baseline`` from the same round,
  minus 1 (the paired ratio cancels slow drifts of a shared machine's load, as in
  :mod:`convattn_plugin.analysis.benchmark`); its quartiles give the error bar.
"""
from __future__ import annotations

import random
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import torch

from .plan import BASELINE, model_name
from .recipes import run_config

__all__ = ['ModelCost', 'measure_costs']


@dataclass
class ModelCost:
    """Cost of one model; ``*_overhead`` are fractions over the baseline (0.1 = +10 %)."""
    model: str
    params: int
    mflops: float
    latency_ms_per_image: float
    params_overhead: float
    flops_overhead: float
    latency_overhead: float
    latency_overhead_q1: float
    latency_overhead_q3: float
    clock: str = 'wall'

    def as_dict(self) -> dict:
        return asdict(self)


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method='inclusive')
    return q[0], q[2]


def measure_costs(data: str, profile: str, kinds: Sequence[Optional[str]], batch_size: int = 32, rounds: int = 30,
                  device: str = 'cpu', seed: int = 0) -> dict[str, ModelCost]:
    """Cost of the baseline and each of ``kinds`` (``None`` is the baseline), by model name."""
    from mmpretrain.registry import MODELS

    from ..analysis import flop_breakdown
    import convattn_plugin.mm  # noqa: F401

    names = [BASELINE] + [model_name(k) for k in kinds if k is not None]
    kind_of = {model_name(k): k for k in [None, *kinds]}
    dev = torch.device(device)
    models, flops, params = {}, {}, {}
    shape: tuple[int, ...] = ()
    fmt = torch.contiguous_format
    for name in names:
        cfg = run_config(data, profile, kind_of[name], seed, work_dir='.')
        shape = tuple(cfg.get('input_shape', (3, 32, 32)))
        fmt = torch.channels_last if cfg.get('channels_last', False) else torch.contiguous_format
        torch.manual_seed(seed)
        model = MODELS.build(cfg.model).eval()
        flops[name] = flop_breakdown(model, (1, *shape)).total
        params[name] = sum(p.numel() for p in model.parameters())
        models[name] = model.to(dev, memory_format=fmt)  # as the recipe trains it
    x = torch.randn(batch_size, *shape, generator=torch.Generator().manual_seed(seed)).to(dev, memory_format=fmt)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    # One CPU thread: the process's CPU time is the latency an idle core would show, and
    # unlike wall time it does not grow while other jobs hold the core.
    cpu_clock = dev.type == 'cpu' and torch.get_num_threads() == 1
    clock = time.process_time if cpu_clock else time.perf_counter
    times: dict[str, list[float]] = {n: [] for n in names}
    order = list(names)
    rng = random.Random(seed)
    with torch.inference_mode():
        for name in names:
            models[name](x)
        for _ in range(rounds):
            rng.shuffle(order)
            for name in order:
                sync()
                t0 = clock()
                models[name](x)
                sync()
                times[name].append(clock() - t0)
    out = {}
    base = times[BASELINE]
    for name in names:
        ratios = [t / b - 1.0 for t, b in zip(times[name], base)]
        q1, q3 = _quartiles(ratios)
        out[name] = ModelCost(
            model=name, params=params[name], mflops=flops[name] / 1e6,
            latency_ms_per_image=statistics.median(times[name]) * 1e3 / batch_size,
            params_overhead=params[name] / params[BASELINE] - 1.0, flops_overhead=flops[name] / flops[BASELINE] - 1.0,
            latency_overhead=statistics.median(ratios), latency_overhead_q1=q1, latency_overhead_q3=q3,
            clock='cpu' if cpu_clock else 'wall')
    return out
