"""What attention costs: params, FLOPs, latency, training-step time and memory vs a baseline.

Models are named as in timm, with two additions for building a model on the fly:

* ``resnet50`` -- any timm model, e.g. a plain baseline, or ``resnet50_se`` once
  ``import convattn_plugin`` registers it;
* ``resnet50+se`` -- timm's ResNet with *our* ``se`` in every block
  (``block_args=dict(attn_layer=SqueezeExcite)``), for any registered kind;
* ``resnet50+timm:se`` -- the same ResNet with *timm's own* implementation
  (``block_args=dict(attn_layer='se')``).

Every model is compared with its baseline (the name without ``_<kind>`` / ``+...``),
which is added to the run if it is missing. How each figure is measured:

* params: all parameters; FLOPs: :func:`convattn_plugin.analysis.flops.flop_breakdown`
  per image at eval, attention operators included (1 multiply-add = 2 FLOPs).
* latency: one eval forward of a batch under ``torch.inference_mode``; training step:
  ``zero_grad(set_to_none=True)``, forward, cross-entropy, backward, SGD step. Both are
  timed round by round, every model once per round in a shuffled order, after warm-up
  calls; the table gives medians over rounds. Overheads are the median over rounds of
  ``t_model / t_baseline`` from the *same* round, minus 1: the paired ratio cancels
  slow drifts of a shared machine's load.
* attention time: during the latency rounds, forward pre/post hooks on every
  attention module add up the wall time spent inside them (median per forward).
* peak training memory: the largest amount of memory live at once during one training
  step on top of what was live before it, with the previous step's gradients freed
  (so: activations saved for backward, the new gradients, temporaries; not the
  parameters and the optimizer state). On CPU it is
  summed from the allocation/free events torch's allocator reports to
  ``torch.profiler`` (``profile_memory=True``); on CUDA it is
  ``torch.cuda.max_memory_allocated`` minus the memory allocated before the step.
  Both count tensors only, not the allocator's cache or the framework's own buffers.
"""
from __future__ import annotations

import csv
import json
import math
import os
import platform
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..layers import get_attn, list_attentions
from ..layers.helpers import AttentionModule
from .flops import flop_breakdown, is_attention_module

# The profiler used for CPU memory logs an error about missing GPUs at every start: quiet it.
os.environ.setdefault('KINETO_LOG_LEVEL', '5')

__all__ = [
    'ModelSpec', 'BenchResult', 'parse_model', 'default_models', 'build_model', 'run_benchmark',
    'format_table', 'speed_target_rows', 'format_speed_target', 'write_results', 'read_results', 'plot_results',
    'machine_info', 'train_step_peak_memory', 'TIMM_KINDS', 'SPEED_TARGETS',
]

# Our kinds that timm implements too, and timm's name for each (``timm.layers.get_attn``).
TIMM_KINDS = {'se': 'se', 'eca': 'eca', 'cbam': 'cbam', 'gc': 'gc', 'coord': 'coord'}
# The target: our latency overhead over the baseline <= factor x timm's overhead.
SPEED_TARGETS = {'se': 0.8, 'cbam': 0.8, 'eca': 1.0, 'gc': 1.0}


@dataclass(frozen=True)
class ModelSpec:
    """One model of a run.

    Attributes:
        name: As given (``resnet50_se``, ``resnet50+se``, ``resnet50+timm:se``).
        arch: The timm model built (``resnet50``, or ``resnet50_se`` if registered).
        kind: Attention kind (``''`` for a plain model).
        impl: ``'ours'``, ``'timm'`` or ``'baseline'``.
        baseline: Name of the model it is compared with (itself for a baseline).
        attn_layer: What goes into ``block_args=dict(attn_layer=...)`` (``None``: nothing).
    """
    name: str
    arch: str
    kind: str = ''
    impl: str = 'baseline'
    baseline: str = ''
    attn_layer: object = None


def parse_model(name: str) -> ModelSpec:
    """Parse a model name of the grammar in the module docstring."""
    if '+' in name:
        arch, attn = name.split('+', 1)
        if attn.startswith('timm:'):
            kind = attn[len('timm:'):]
            if not kind:
                raise ValueError(f'{name!r}: no kind after "timm:"')
            return ModelSpec(name, arch, kind, 'timm', arch, TIMM_KINDS.get(kind, kind))
        cls = get_attn(attn)  # ValueError listing the known kinds
        return ModelSpec(name, arch, attn, 'ours', arch, cls)
    for kind in sorted(list_attentions(), key=len, reverse=True):
        if name.endswith('_' + kind):
            return ModelSpec(name, name, kind, 'ours', name[:-len(kind) - 1])
    return ModelSpec(name, name, '', 'baseline', name)


def default_models(arch: str = 'resnet50', kinds: Sequence[str] = ('se', 'cbam', 'eca', 'gc'),
                   with_timm: bool = True) -> list[str]:
    """``arch``, ours for each kind (the registered ``<arch>_<kind>`` if it exists), timm's."""
    import timm
    import convattn_plugin  # noqa: F401 - registers our models into timm, if any

    names = [arch]
    for kind in kinds:
        names.append(f'{arch}_{kind}' if timm.is_model(f'{arch}_{kind}') else f'{arch}+{kind}')
        if with_timm and kind in TIMM_KINDS:
            names.append(f'{arch}+timm:{kind}')
    return names


def build_model(spec: ModelSpec, num_classes: int = 1000) -> nn.Module:
    """Build ``spec`` with timm (random init)."""
    import timm
    import convattn_plugin  # noqa: F401

    kwargs = dict(num_classes=num_classes)
    if spec.attn_layer is not None:
        kwargs['block_args'] = dict(attn_layer=spec.attn_layer)
    try:
        return timm.create_model(spec.arch, **kwargs)
    except TypeError as e:
        raise ValueError(f'{spec.name}: {spec.arch!r} does not take block_args=dict(attn_layer=...): {e}') from e


def machine_info(device: torch.device) -> dict:
    """Where the figures come from."""
    info = dict(
        cpu=platform.processor() or platform.machine(), cpu_count=_cpu_count(),
        torch=torch.__version__, threads=torch.get_num_threads(), device=str(device),
        python=platform.python_version(), load_avg=_load_avg())
    if device.type == 'cpu':
        info['cpu'] = _cpu_model() or info['cpu']
    elif device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return ''


def _load_avg() -> Optional[list[float]]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


# ----------------------------------------------------------------------------- timing

@dataclass
class BenchResult:
    """Everything measured for one model; ratios are to its baseline."""
    name: str
    kind: str
    impl: str
    baseline: str
    params: int = 0
    gflops: float = 0.0
    attn_gflops: float = 0.0
    latency_ms: float = math.nan
    latency_iqr_ms: float = math.nan
    latency_min_ms: float = math.nan
    attn_ms: float = math.nan
    train_ms: float = math.nan
    train_mem_mb: float = math.nan
    params_ratio: float = math.nan
    flops_ratio: float = math.nan
    latency_ratio: float = math.nan
    latency_ratio_iqr: tuple = (math.nan, math.nan)
    train_ratio: float = math.nan
    mem_ratio: float = math.nan
    latency_runs: list = field(default_factory=list, repr=False)
    train_runs: list = field(default_factory=list, repr=False)


class _AttentionTimer:
    """Adds up the wall time spent inside the outer-most attention modules of a model."""

    def __init__(self, model: nn.Module, sync: Callable[[], None]) -> None:
        self.total = 0.0
        self._start: dict[int, float] = {}
        self._handles = []
        self._sync = sync
        outer: list[str] = []
        for name, m in model.named_modules():
            if name and is_attention_module(m) and not any(name.startswith(o + '.') for o in outer):
                outer.append(name)
                self._handles.append(m.register_forward_pre_hook(self._pre))
                self._handles.append(m.register_forward_hook(self._post))
        self.count = len(outer)

    def _pre(self, module, args):
        self._sync()
        self._start[id(module)] = time.perf_counter()

    def _post(self, module, args, out):
        self._sync()
        self.total += time.perf_counter() - self._start.pop(id(module))

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def _sync_fn(device: torch.device) -> Callable[[], None]:
    if device.type == 'cuda':
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _autocast(device: torch.device, amp: bool):
    if not amp:
        return torch.autocast(device_type=device.type, enabled=False)
    dtype = torch.bfloat16 if device.type == 'cpu' or torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _make_train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device, amp: bool):
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == 'cuda'
                                  and not torch.cuda.is_bf16_supported())

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with _autocast(device, amp):
            out = model(x)
            loss = F.cross_entropy(out.float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return step


def train_step_peak_memory(step: Callable[[], None], device: torch.device,
                           model: Optional[nn.Module] = None) -> float:
    """Peak bytes live during ``step()`` on top of those live before it (see module doc).

    With ``model`` given, its gradients are dropped first (as ``zero_grad(set_to_none=True)``
    at the start of the step would), so the figure is the same in every step: the
    activations saved for backward, the new gradients and the temporaries.
    """
    if model is not None:
        for p in model.parameters():
            p.grad = None
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device) - before)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    # Allocation (+bytes) and free (-bytes) events of torch's allocator, in time order.
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == '[memory]']
    events.sort(key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return float(peak)


def _quantiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return (values[0], values[0]) if values else (math.nan, math.nan)
    q = statistics.quantiles(values, n=4, method='inclusive')
    return q[0], q[2]


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)


def run_benchmark(
        names: Sequence[str],
        batch_size: int = 8,
        img_size: int = 224,
        rounds: int = 7,
        train_rounds: int = 3,
        warmup: int = 1,
        device: str = 'cpu',
        amp: bool = False,
        channels_last: bool = False,
        train: bool = True,
        attn_inplace: bool = False,
        seed: int = 0,
        progress: bool = True,
) -> list[BenchResult]:
    """Measure every model of ``names`` (and their baselines) as the module docstring says.

    Args:
        names: Model names (grammar in the module docstring).
        batch_size: Batch of the latency and training-step measurements.
        img_size: Input height and width.
        rounds: Timed inference rounds (each model once per round) after warm-up.
        train_rounds: Timed training-step rounds; 0 skips training time and memory.
        warmup: Untimed calls per model before the rounds (inference and training each).
        device: ``'cpu'`` or ``'cuda'``.
        amp: Autocast (bf16, or fp16 where a GPU has no bf16) for both modes.
        channels_last: Model and input in channels-last memory format.
        train: Measure training-step time and memory.
        attn_inplace: Set ``inplace = True`` on our attention modules that have it
            (inference overwrites the block's own feature map, see ``SqueezeExcite``).
        seed: Seeds the weights, the inputs and the order of models within a round.
        progress: Show tqdm progress bars.

    Returns:
        One :class:`BenchResult` per model, baselines first.
    """
    dev = torch.device(device)
    specs = [parse_model(n) for n in names]
    # Baselines first, each once; then the others in the order given.
    ordered: dict[str, ModelSpec] = {}
    for s in specs:
        ordered.setdefault(s.baseline, parse_model(s.baseline))
    for s in specs:
        ordered.setdefault(s.name, s)
    specs = list(ordered.values())
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    models: dict[str, nn.Module] = {}
    results: dict[str, BenchResult] = {}
    for s in _progress(specs, len(specs), 'build + FLOPs', progress):
        torch.manual_seed(seed)
        m = build_model(s).eval()
        fc = flop_breakdown(m, (1, 3, img_size, img_size))
        if attn_inplace:
            for mod in m.modules():
                if isinstance(mod, AttentionModule) and hasattr(type(mod), 'inplace'):
                    mod.inplace = True
        models[s.name] = m.to(dev, memory_format=fmt)
        results[s.name] = BenchResult(
            s.name, s.kind, s.impl, s.baseline, params=sum(p.numel() for p in m.parameters()),
            gflops=fc.total / 1e9, attn_gflops=fc.attention / 1e9)

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, 3, img_size, img_size, generator=gen).to(dev, memory_format=fmt)
    sync = _sync_fn(dev)
    rng = random.Random(seed)

    # Inference: warm-up, then rounds in shuffled order with attention-time hooks.
    timers = {k: _AttentionTimer(m, sync) for k, m in models.items()}
    lat: dict[str, list[float]] = {k: [] for k in models}
    attn: dict[str, list[float]] = {k: [] for k in models}
    order = list(models)
    with torch.inference_mode(), _autocast(dev, amp):
        for k in _progress(order, len(order), 'inference warm-up', progress):
            for _ in range(warmup):
                models[k](x)
        for _ in _progress(range(rounds), rounds, f'inference x{len(order)} models', progress):
            rng.shuffle(order)
            for k in order:
                timers[k].total = 0.0
                sync()
                t0 = time.perf_counter()
                models[k](x)
                sync()
                lat[k].append(time.perf_counter() - t0)
                attn[k].append(timers[k].total)
    for t in timers.values():
        t.remove()

    train_t: dict[str, list[float]] = {k: [] for k in models}
    if train and train_rounds > 0:
        y = torch.randint(0, 1000, (batch_size,), generator=gen).to(dev)
        steps = {}
        for k in _progress(list(models), len(models), 'train warm-up + memory', progress):
            models[k].train()
            steps[k] = _make_train_step(models[k], x, y, dev, amp)
            # At least one step first: SGD creates its momentum buffers in the first step.
            for _ in range(max(warmup, 1)):
                steps[k]()
            # The memory-profiled step is one more untimed step.
            results[k].train_mem_mb = train_step_peak_memory(steps[k], dev, models[k]) / 2 ** 20
        for _ in _progress(range(train_rounds), train_rounds, f'train steps x{len(order)} models', progress):
            rng.shuffle(order)
            for k in order:
                sync()
                t0 = time.perf_counter()
                steps[k]()
                sync()
                train_t[k].append(time.perf_counter() - t0)
        for m in models.values():
            m.eval()

    for k, r in results.items():
        base = results[r.baseline]
        r.latency_runs = [v * 1e3 for v in lat[k]]
        r.latency_ms = statistics.median(r.latency_runs)
        q1, q3 = _quantiles(r.latency_runs)
        r.latency_iqr_ms = q3 - q1
        r.latency_min_ms = min(r.latency_runs)
        r.attn_ms = statistics.median(attn[k]) * 1e3 if timers[k].count else 0.0
        r.params_ratio = r.params / base.params
        r.flops_ratio = r.gflops / base.gflops
        paired = [a / b for a, b in zip(lat[k], lat[r.baseline])]
        r.latency_ratio = statistics.median(paired)
        r.latency_ratio_iqr = _quantiles(paired)
        if train_t[k]:
            r.train_runs = [v * 1e3 for v in train_t[k]]
            r.train_ms = statistics.median(r.train_runs)
            r.train_ratio = statistics.median(a / b for a, b in zip(train_t[k], train_t[r.baseline]))
            r.mem_ratio = r.train_mem_mb / base.train_mem_mb
    return list(results.values())


# ----------------------------------------------------------------------------- output

def _pct(ratio: float) -> str:
    return '-' if math.isnan(ratio) else f'{(ratio - 1) * 100:+.1f}%'


def _num(v: float, fmt: str = '.1f') -> str:
    return '-' if isinstance(v, float) and math.isnan(v) else format(v, fmt)


def format_table(results: Sequence[BenchResult], markdown: bool = False) -> str:
    """The results as an aligned text table (or Markdown)."""
    header = ['model', 'kind', 'impl', 'params M', 'GFLOPs', 'attn MFLOPs', 'latency ms', 'lat. overhead',
              'attn ms', 'train ms', 'train overhead', 'train mem MB', 'mem ratio']
    rows = [[r.name, r.kind or '-', r.impl, f'{r.params / 1e6:.2f}', f'{r.gflops:.3f}', f'{r.attn_gflops * 1e3:.1f}',
             _num(r.latency_ms), _pct(r.latency_ratio) if r.impl != 'baseline' else '-',
             _num(r.attn_ms, '.2f'), _num(r.train_ms), _pct(r.train_ratio) if r.impl != 'baseline' else '-',
             _num(r.train_mem_mb), _num(r.mem_ratio, '.3f')] for r in results]
    return _render(header, rows, markdown)


def _render(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
        lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
        return '\n'.join(lines)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = ['  '.join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [header, *rows]]
    lines.insert(1, '-' * len(lines[0]))
    return '\n'.join(lines)


def speed_target_rows(results: Sequence[BenchResult]) -> list[dict]:
    """Per kind measured both ways: our overhead / timm's overhead against the target.

    Our variants of a kind registered as ``<kind>_<suffix>`` (e.g. ``se_before``) are
    compared with timm's ``<kind>`` too.
    """
    timm_by = {(r.baseline, r.kind): r for r in results if r.impl == 'timm'}
    rows = []
    for ours in results:
        if ours.impl != 'ours':
            continue
        base, kind = ours.baseline, ours.kind
        family = next((k for (b, k) in timm_by if b == base and (kind == k or kind.startswith(k + '_'))), None)
        if family is None:
            continue
        theirs = timm_by[(base, family)]
        o_ours, o_timm = ours.latency_ratio - 1, theirs.latency_ratio - 1
        o_attn_ours, o_attn_timm = ours.attn_ms, theirs.attn_ms
        target = SPEED_TARGETS.get(family)
        rel = o_ours / o_timm if o_timm > 0 else math.nan
        rel_attn = o_attn_ours / o_attn_timm if o_attn_timm > 0 else math.nan
        base_min = next(r.latency_min_ms for r in results if r.name == base)
        m_ours, m_timm = ours.latency_min_ms / base_min - 1, theirs.latency_min_ms / base_min - 1
        rows.append(dict(
            baseline=base, kind=kind, ours=ours.name, timm=theirs.name,
            overhead_ours=o_ours, overhead_timm=o_timm, ratio=rel, target=target,
            attn_ms_ours=o_attn_ours, attn_ms_timm=o_attn_timm, attn_ratio=rel_attn,
            overhead_ours_min=m_ours, overhead_timm_min=m_timm, ratio_min=m_ours / m_timm if m_timm > 0 else math.nan,
            met=None if target is None or math.isnan(rel) else rel <= target,
            mem_ours_mb=ours.train_mem_mb, mem_timm_mb=theirs.train_mem_mb,
            mem_met=None if math.isnan(ours.train_mem_mb) else ours.train_mem_mb <= theirs.train_mem_mb))
    return rows


def format_speed_target(rows: Sequence[dict], markdown: bool = False) -> str:
    """The speed target table: latency overhead of ours relative to timm's, per kind."""
    header = ['kind', 'overhead ours', 'overhead timm', 'ours/timm', 'target', 'met', 'ours/timm (min)',
              'attn ms ours', 'attn ms timm', 'attn ours/timm', 'train mem ours<=timm']

    def yn(v):
        return '-' if v is None else ('yes' if v else 'NO')

    body = [[r['kind'], f"{r['overhead_ours'] * 100:+.2f}%", f"{r['overhead_timm'] * 100:+.2f}%",
             _num(r['ratio'], '.2f'), f"<= {r['target']}" if r['target'] else '-', yn(r['met']),
             _num(r['ratio_min'], '.2f'),
             _num(r['attn_ms_ours'], '.1f'), _num(r['attn_ms_timm'], '.1f'), _num(r['attn_ratio'], '.2f'),
             yn(r['mem_met'])] for r in rows]
    return _render(header, body, markdown)


def write_results(results: Sequence[BenchResult], path: str, meta: Optional[dict] = None) -> None:
    """Write ``.json`` (everything, with per-round times and ``meta``) or ``.csv`` (the table)."""
    records = [asdict(r) for r in results]
    if path.endswith('.json'):
        with open(path, 'w') as f:
            json.dump(dict(meta=meta or {}, results=records, speed_target=speed_target_rows(results)),
                      f, indent=1, default=float)
        return
    keys = [k for k in records[0] if k not in ('latency_runs', 'train_runs', 'latency_ratio_iqr')]
    with open(path, 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction='ignore')
        w.writeheader()
        w.writerows(records)


def read_results(path: str) -> tuple[list[BenchResult], dict]:
    """Results and meta back from a ``.json`` written by :func:`write_results`."""
    with open(path) as f:
        data = json.load(f)
    results = []
    for rec in data['results']:
        rec['latency_ratio_iqr'] = tuple(rec.get('latency_ratio_iqr', (math.nan, math.nan)))
        results.append(BenchResult(**rec))
    return results, data.get('meta', {})


def plot_results(results: Sequence[BenchResult], path: str, title: str = '') -> None:
    """Bar charts per model: overheads over the baseline, and the time inside attention.

    Bars are in the order of the run, ours in blue and timm's in orange; latency bars
    carry the inter-quartile range of the per-round paired ratios.
    """
    import textwrap

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    attn = [r for r in results if r.impl != 'baseline']
    panels = [('latency_ratio', 'inference latency overhead', '% over baseline'),
              ('attn_ms', 'time inside attention modules', 'ms per forward'),
              ('train_ratio', 'training step overhead', '% over baseline'),
              ('flops_ratio', 'FLOPs overhead', '% over baseline'),
              ('mem_ratio', 'training peak memory overhead', '% over baseline')]
    panels = [p for p in panels if any(not math.isnan(getattr(r, p[0])) for r in attn)]
    ncol = min(len(panels), 3)
    nrow = math.ceil(len(panels) / ncol)
    per_bar = 0.32
    fig, axes = plt.subplots(nrow, ncol, figsize=(max(4.0, 1.2 + per_bar * len(attn)) * ncol, 3.4 * nrow + 0.6),
                             squeeze=False)
    colors = {'ours': '#1f77b4', 'timm': '#ff7f0e'}
    labels = [r.kind + (' (timm)' if r.impl == 'timm' else '') for r in attn]
    xs = list(range(len(attn)))
    for ax, (attr, label, unit) in zip(axes.flat, panels):
        ratio = attr.endswith('ratio')
        vals = [(getattr(r, attr) - 1) * 100 if ratio else getattr(r, attr) for r in attn]
        err = None
        if attr == 'latency_ratio':
            err = [[max(v - (r.latency_ratio_iqr[0] - 1) * 100, 0) for v, r in zip(vals, attn)],
                   [max((r.latency_ratio_iqr[1] - 1) * 100 - v, 0) for v, r in zip(vals, attn)]]
        ax.bar(xs, vals, 0.75, color=[colors.get(r.impl, 'grey') for r in attn], yerr=err, capsize=2)
        ax.axhline(0, color='black', lw=0.8)
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, rotation=45 if len(attn) > 5 else 0, ha='right' if len(attn) > 5 else 'center',
                           fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.set_ylabel(unit, fontsize=8)
        ax.grid(axis='y', alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis('off')
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()]
    axes.flat[0].legend(handles, ['ours', 'timm'], fontsize=8)
    if title:
        width = int(fig.get_figwidth() * 14)
        fig.suptitle('\n'.join(textwrap.wrap(title, width)), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def describe_run(meta: dict) -> str:
    """One line saying what was measured where."""
    m = meta.get('machine', {})
    return (f"{m.get('device', '?')} ({m.get('cpu', '?')}, {m.get('cpu_count', '?')} cores, "
            f"{m.get('threads', '?')} threads), torch {m.get('torch', '?')}, batch {meta.get('batch_size')}, "
            f"{meta.get('img_size')} px, {'AMP' if meta.get('amp') else 'fp32'}"
            f"{', channels_last' if meta.get('channels_last') else ''}, {meta.get('rounds')} inference rounds, "
            f"{meta.get('train_rounds')} training rounds, load avg before/after "
            f"{m.get('load_avg')}/{meta.get('load_avg_after')}")


def iter_kinds(results: Iterable[BenchResult]) -> list[str]:
    return list(dict.fromkeys(r.kind for r in results if r.kind))
