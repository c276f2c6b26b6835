"""What the benchmark measures: one callable per model and mode, the attention-time pass, peak memory.

Modes (every one runs the model alone: no hooks, no synchronisation inside):

* ``infer``: one eval forward of the batch under ``torch.inference_mode``;
* ``train``: ``zero_grad(set_to_none=True)``, forward, cross-entropy, backward and an SGD
  (momentum 0.9) step; with fp16 autocast a ``GradScaler`` scales the loss;
* ``compile``: ``infer`` of ``torch.compile(model)`` (default mode); the first call
  compiles and is timed apart as the warm-up;
* ``attn-train``: the model's attention modules alone, each on a random input of the
  shape it sees in the model (recorded in one forward), forward and backward, in
  training mode: the training cost of the attention without the rest of the network's
  time and its noise (a plain model has none: no overhead ratio in this mode);
* ``attn-infer``: the same modules on the same inputs, eval forward under
  ``torch.inference_mode``: the inference cost of the attention alone. A module that writes
  into its input (``inplace=True``, ``--attn-inplace``) gets a fresh copy each call, and the
  copy is timed with it.

``amp`` (``'bf16'`` / ``'fp16'``) wraps forward and loss in ``torch.autocast``;
``channels_last`` converts model and input to that memory format.

Peak memory (:func:`peak_memory`) of one call (a training step): what it allocates on top of
what was live before.

* CUDA: ``torch.cuda.max_memory_allocated`` minus ``torch.cuda.memory_allocated`` before
  the call (the caching allocator's tensors, not its cache).
* CPU: torch's allocator reports every allocation and free to ``torch.profiler`` when
  ``profile_memory=True``. The profiler's public event list (``prof.events()``) gives each
  operator's own net allocation (``self_cpu_memory_usage``: bytes allocated minus bytes
  freed inside it, children excluded) and its start time; adding them up in time order
  gives the bytes live after each operator, and the largest of these is the peak. A
  temporary that lives and dies inside one operator is netted out, so the CPU figure is
  the peak at operator granularity, never above the allocation-level peak.

Both count tensors only, not the framework's own buffers.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
import warnings
from typing import Callable, ContextManager, Iterator, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..flops import is_attention_module

__all__ = ['MODES', 'AMP_DTYPES', 'autocast', 'make_call', 'attention_time', 'room_for_compiled_models',
           'peak_memory', 'silenced_native_stderr']

MODES = ('infer', 'train', 'compile', 'attn-train', 'attn-infer')
AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def autocast(device: torch.device, amp: Optional[str]) -> ContextManager:
    """``torch.autocast`` to ``amp``'s dtype, or nothing for ``None``."""
    if not amp:
        return contextlib.nullcontext()
    if amp not in AMP_DTYPES:
        raise ValueError(f'amp must be one of {sorted(AMP_DTYPES)} or None, got {amp!r}')
    return torch.autocast(device_type=device.type, dtype=AMP_DTYPES[amp])


def room_for_compiled_models(count: int) -> ContextManager:
    """A region in which ``torch.compile`` keeps one compiled graph for each of ``count`` models.

    Models of one architecture share the code of their ``forward``, and each structure
    (plain, ours, timm's kind) needs its own compiled version of it; dynamo keeps at most
    ``torch.compiler.config.recompile_limit`` (8 by default) versions of one code object
    and runs it eagerly beyond that: a run of the plain ResNet-18 and 8 variants timed the
    9th uncompiled (timm's ``gc``; docs/cost.md, "Compiled inference"). The limit is raised to
    ``count`` for the region. Without that setting (older torch) nothing changes and a
    warning says so.
    """
    config = getattr(torch.compiler, 'config', None)
    limit = getattr(config, 'recompile_limit', None)
    if limit is None:
        if count > 8:
            warnings.warn(f'torch {torch.__version__} has no torch.compiler.config.recompile_limit: past 8 '
                          'compiled models of one architecture, the compile mode may time eager ones')
        return contextlib.nullcontext()
    return config.patch(recompile_limit=max(limit, count))


def make_call(mode: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
              amp: Optional[str]) -> Callable[[], None]:
    """The callable the timed rounds of ``mode`` run for ``model`` (see the module docstring)."""
    if mode == 'train':
        return _train_step(model, x, y, device, amp)
    if mode in ('attn-train', 'attn-infer'):
        return _attention_step(model, x, device, amp, train=mode == 'attn-train')
    if mode not in ('infer', 'compile'):
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    run = torch.compile(model) if mode == 'compile' else model

    def infer() -> None:
        with torch.inference_mode(), autocast(device, amp):
            run(x)
    return infer


def _train_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                amp: Optional[str]) -> Callable[[], None]:
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == 'fp16' and device.type == 'cuda')

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast(device, amp):
            loss = F.cross_entropy(model(x).float(), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    return step


def _outer_attention_modules(model: nn.Module) -> list[nn.Module]:
    outer: list[str] = []
    for name, m in model.named_modules():
        if name and is_attention_module(m) and not any(name.startswith(o + '.') for o in outer):
            outer.append(name)
    return [model.get_submodule(n) for n in outer]


def _attention_step(model: nn.Module, x: torch.Tensor, device: torch.device,
                    amp: Optional[str], train: bool) -> Callable[[], None]:
    modules = _outer_attention_modules(model)
    inputs: dict[int, torch.Tensor] = {}

    def record(mod: nn.Module, args: tuple) -> None:
        inputs.setdefault(id(mod), args[0].detach().clone())
    handles = [m.register_forward_pre_hook(record) for m in modules]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in handles:
            h.remove()
        model.train(train)
    gen = torch.Generator(device='cpu').manual_seed(0)
    work = [(m, inputs[id(m)], torch.randn(inputs[id(m)].shape, generator=gen).to(inputs[id(m)]))
            for m in modules if id(m) in inputs]

    def forward() -> None:
        with torch.inference_mode(), autocast(device, amp):
            for m, xin, _ in work:
                m(xin.clone() if getattr(m, 'inplace', False) is True else xin)

    if not train:
        return forward

    def step() -> None:
        for m, xin, grad in work:
            for p in m.parameters():
                p.grad = None
            xin = xin.detach().requires_grad_(True)  # as a block's feature map: it needs a gradient
            with autocast(device, amp):
                out = m(xin)
            out.backward(grad.to(out.dtype))
    return step


class _AttentionTimer:
    """Adds up the wall time spent inside the outer-most attention modules of a model."""

    def __init__(self, model: nn.Module, sync: Callable[[], None]) -> None:
        self.total = 0.0
        self._start: dict[int, float] = {}
        self._sync = sync
        self._handles = []
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


def attention_time(model: nn.Module, x: torch.Tensor, device: torch.device, amp: Optional[str],
                   rounds: int) -> float:
    """Median seconds per eval forward spent inside the attention modules (0 if none).

    Hooks time every outer-most attention module (synchronising a GPU before and after
    each); they are attached for this pass only and removed before it returns, so the
    timed rounds of the modes never carry them.
    """
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)
    timer = _AttentionTimer(model, sync)
    if not timer.count:
        timer.remove()
        return 0.0
    totals = []
    try:
        with torch.inference_mode(), autocast(device, amp):
            for _ in range(max(rounds, 1)):
                timer.total = 0.0
                model(x)
                totals.append(timer.total)
    finally:
        timer.remove()
    return statistics.median(totals)


def peak_memory(fn: Callable[[], object], device: torch.device, model: Optional[nn.Module] = None) -> float:
    """Peak bytes live during ``fn()`` on top of those live before it.

    Args:
        fn: The call to measure, e.g. one training step.
        device: Where it runs.
        model: If given, its gradients are dropped first (as ``zero_grad(set_to_none=True)``
            at the start of a step would), so every step gives the same figure: the
            activations saved for backward, the new gradients and the temporaries.
    """
    if model is not None:
        for p in model.parameters():
            p.grad = None
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device) - before)
    from torch.profiler import ProfilerActivity, profile

    # The profiler's native library prints start/stop lines to stderr: keep them out of
    # the progress bars and the tables.
    with silenced_native_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return float(peak)


@contextlib.contextmanager
def silenced_native_stderr() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to a scratch file, for the block."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (captured): nothing to silence
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
