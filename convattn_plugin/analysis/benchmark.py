"""What attention costs: run every model of a comparison, interleaved, in each mode.

Models are named as :mod:`.model_spec` says (``resnet50``, ``resnet50_cbam``,
``resnet50+cbam``, ``resnet50+timm:cbam``); every model's baseline joins the run. The
modes are :mod:`.bench_modes`' ``infer``, ``train``, ``compile``, ``attn-train`` and ``attn-infer``.

How it measures, per mode:

* warm-up: ``warmup`` untimed calls per model (at least one; for ``compile`` the first
  call compiles, and its time is reported as ``warmup_s``);
* rounds: every model runs once per round in a freshly shuffled order, so a baseline
  and the models compared with it see the same load of a shared machine; a GPU is
  synchronised before and after each call;
* figures: the median time over rounds, images/s = batch / median time, and the
  overhead as the median over rounds of ``t_model / t_baseline`` *from the same round*,
  minus 1; its inter-quartile range is the spread. An overhead whose spread is larger
  than the overhead itself is flagged as noise (``noisy``), as is any with fewer than 3
  rounds.

Apart from the timed rounds: FLOPs (:mod:`convattn_plugin.flops`, per image, eval), the time inside the
attention modules (:func:`.bench_modes.attention_time`, a separate pass with hooks), and
for ``train`` the peak memory of one more step (:func:`.bench_modes.peak_memory`).
"""
from __future__ import annotations

import contextlib
import math
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch

from .bench_modes import MODES, attention_time, make_call, peak_memory, room_for_compiled_models
from ..flops import flop_breakdown
from .model_spec import ModelSpec, build_model, parse_model

__all__ = ['ModeResult', 'BenchResult', 'run_benchmark', 'paired_overhead']


@dataclass
class ModeResult:
    """One model in one mode.

    Attributes:
        ms: Median milliseconds per call (a batch).
        images_per_s: Batch size / median seconds.
        ratio: Median over rounds of this model's time / its baseline's, same round.
        ratio_q1: First quartile of those per-round ratios.
        ratio_q3: Third quartile.
        noisy: The spread (``ratio_q3 - ratio_q1``) exceeds the overhead ``|ratio - 1|``,
            or there were fewer than 3 rounds: the overhead is not resolved.
        warmup_s: Seconds of the first call (for ``compile``: compiling).
        runs_ms: Every round's time.
    """
    ms: float = math.nan
    images_per_s: float = math.nan
    ratio: float = math.nan
    ratio_q1: float = math.nan
    ratio_q3: float = math.nan
    noisy: bool = False
    warmup_s: float = math.nan
    runs_ms: list = field(default_factory=list, repr=False)

    @property
    def overhead(self) -> float:
        return self.ratio - 1


@dataclass
class BenchResult:
    """Everything measured for one model; ratios and extras are to its baseline."""
    name: str
    kind: str
    impl: str
    baseline: str
    params: int = 0
    gflops: float = 0.0
    attn_gflops: float = 0.0
    attn_ms: float = math.nan
    train_mem_mb: float = math.nan
    mem_extra_mb: float = math.nan
    modes: dict = field(default_factory=dict)


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (math.nan, math.nan)
    q = statistics.quantiles(values, n=4, method='inclusive')
    return q[0], q[2]


def paired_overhead(times: Sequence[float], base_times: Sequence[float], batch_size: int) -> ModeResult:
    """A :class:`ModeResult` from per-round times of a model and of its baseline (seconds)."""
    ratios = [a / b for a, b in zip(times, base_times)]
    q1, q3 = _quartiles(ratios)
    ratio = statistics.median(ratios)
    med = statistics.median(times)
    noisy = len(ratios) < 3 or (q3 - q1) > abs(ratio - 1)
    return ModeResult(ms=med * 1e3, images_per_s=batch_size / med, ratio=ratio, ratio_q1=q1, ratio_q3=q3,
                      noisy=noisy, runs_ms=[t * 1e3 for t in times])


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)


def _ordered_specs(names: Sequence[str]) -> list[ModelSpec]:
    # Baselines first, each once; then the others in the order given.
    specs = [parse_model(n) for n in names]
    ordered: dict[str, ModelSpec] = {}
    for s in specs:
        ordered.setdefault(s.baseline, parse_model(s.baseline))
    for s in specs:
        ordered.setdefault(s.name, s)
    return list(ordered.values())


def run_benchmark(
        names: Sequence[str],
        modes: Sequence[str] = ('infer', 'train'),
        batch_size: int = 8,
        img_size: int = 224,
        rounds: int = 7,
        warmup: int = 1,
        device: str = 'cpu',
        amp: Optional[str] = None,
        channels_last: bool = False,
        attn_inplace: bool = False,
        attn_rounds: int = 3,
        seed: int = 0,
        progress: bool = True,
) -> list[BenchResult]:
    """Measure every model of ``names`` (and their baselines) as the module docstring says.

    Args:
        names: Model names (grammar in :mod:`.model_spec`).
        modes: Any of ``'infer'``, ``'train'``, ``'compile'``, ``'attn-train'``, ``'attn-infer'``, one after
            another.
        batch_size: Images per call.
        img_size: Input height and width.
        rounds: Timed rounds per mode (each model once per round).
        warmup: Untimed calls per model and mode before the rounds (at least 1).
        device: ``'cpu'`` or ``'cuda'``.
        amp: ``None`` (fp32), ``'bf16'`` or ``'fp16'`` autocast in every mode.
        channels_last: Model and input in channels-last memory format.
        attn_inplace: Our gates write into their input in inference (``inplace=True``).
        attn_rounds: Forwards of the separate attention-time pass (0: skip it).
        seed: Seeds the weights, the inputs and the order of models within a round.
        progress: Show tqdm progress bars (on stderr).

    Returns:
        One :class:`BenchResult` per model, baselines first.
    """
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f'modes must be a non-empty list of {MODES}, got {list(modes)!r}')
    for arg, value in (('batch_size', batch_size), ('img_size', img_size), ('rounds', rounds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'{arg} must be a positive int, got {value!r}')
    dev = torch.device(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    specs = _ordered_specs(names)

    models, results = {}, {}
    for s in _progress(specs, len(specs), 'build + FLOPs', progress):
        torch.manual_seed(seed)
        m = build_model(s, attn_inplace=attn_inplace).eval()
        fc = flop_breakdown(m, (1, 3, img_size, img_size))
        models[s.name] = m.to(dev, memory_format=fmt)
        results[s.name] = BenchResult(s.name, s.kind, s.impl, s.baseline, params=sum(p.numel() for p in m.parameters()),
                                      gflops=fc.total / 1e9, attn_gflops=fc.attention / 1e9)

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 3, img_size, img_size, generator=gen).to(dev, memory_format=fmt)
    y = torch.randint(0, 1000, (batch_size,), generator=gen).to(dev)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    rng = random.Random(seed)

    for mode in modes:
        with room_for_compiled_models(len(models) + 1) if mode == 'compile' else contextlib.nullcontext():
            times, warm = _time_mode(mode, models, x, y, dev, amp, rounds, warmup, sync, rng, results, progress)
        for k, r in results.items():
            if mode.startswith('attn-'):  # no attention in the baseline: nothing to divide by
                r.modes[mode] = paired_overhead(times[k], times[k], batch_size)
                r.modes[mode].ratio = r.modes[mode].ratio_q1 = r.modes[mode].ratio_q3 = math.nan
            else:
                r.modes[mode] = paired_overhead(times[k], times[r.baseline], batch_size)
            r.modes[mode].warmup_s = warm[k]
        for m in models.values():
            m.eval()
    if attn_rounds > 0:
        for k in _progress(list(models), len(models), 'attention time (hooks, separate pass)', progress):
            results[k].attn_ms = attention_time(models[k], x, dev, amp, attn_rounds) * 1e3
    for r in results.values():
        r.mem_extra_mb = r.train_mem_mb - results[r.baseline].train_mem_mb
    return list(results.values())


def _time_mode(mode, models, x, y, dev, amp, rounds, warmup, sync, rng, results, progress):
    """Warm-up (and peak memory for ``train``), then the interleaved rounds; seconds per call."""
    calls, warm = {}, {}
    for k in _progress(list(models), len(models), f'{mode}: warm-up', progress):
        models[k].train(mode in ('train', 'attn-train'))
        calls[k] = make_call(mode, models[k], x, y, dev, amp)
        for i in range(max(warmup, 1)):
            sync()
            t0 = time.perf_counter()
            calls[k]()
            sync()
            if i == 0:
                warm[k] = time.perf_counter() - t0
        if mode == 'train':
            # One more, untimed, step: SGD made its momentum buffers in the first one.
            results[k].train_mem_mb = peak_memory(calls[k], dev, models[k]) / 2 ** 20
    times: dict[str, list[float]] = {k: [] for k in models}
    order = list(models)
    for _ in _progress(range(rounds), rounds, f'{mode}: rounds x {len(order)} models', progress):
        rng.shuffle(order)
        for k in order:
            sync()
            t0 = time.perf_counter()
            calls[k]()
            sync()
            times[k].append(time.perf_counter() - t0)
    return times, warm
