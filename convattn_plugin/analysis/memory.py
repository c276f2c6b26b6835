"""Peak memory of one call (a training step): what it allocates on top of what was live before.

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
import sys
import tempfile
from typing import Callable, Iterator, Optional

import torch
import torch.nn as nn

__all__ = ['peak_memory', 'silenced_native_stderr']


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
