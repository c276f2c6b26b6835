"""Where measured figures come from: processor, cores, threads, memory, versions, load of the machine.

The one description of the machine, used by the benchmark (:func:`machine_info`,
:func:`describe_run`), the leaderboard's result files and ``tools/digits_compare.py``
(:func:`machine_summary`).
"""
from __future__ import annotations

import os
import platform
from typing import Optional

import torch

__all__ = ['available_cores', 'machine_info', 'machine_summary', 'load_average', 'describe_run']


def machine_info(device: Optional[torch.device] = None) -> dict:
    """The device, the processor (or GPU), cores, threads, versions and the load average now.

    ``device`` default: the first GPU if there is one, else the CPU.
    """
    if device is None:
        device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    info = dict(
        cpu=_cpu_model() or platform.processor() or platform.machine(), cpu_count=available_cores(),
        torch=torch.__version__, threads=torch.get_num_threads(), device=str(device),
        python=platform.python_version(), load_avg=load_average())
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def load_average() -> Optional[list[float]]:
    """The 1, 5 and 15 minute load averages (``None`` where the system has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_summary() -> str:
    """One line: CPU model, cores, memory, load, GPU, Python and torch versions."""
    m = machine_info()
    try:
        mem = f', {os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30:.0f} GiB'
    except (AttributeError, ValueError, OSError):
        mem = ''
    load = f', load average {m["load_avg"][0]:.1f}' if m['load_avg'] else ''
    return (f'{m["cpu"]}, {m["cpu_count"]} cores available{mem}{load}; {m.get("gpu", "no GPU")}; '
            f'Python {m["python"]}, torch {m["torch"]}')


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else all)."""
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


def describe_run(meta: dict) -> str:
    """One line saying what was measured where (``meta`` as the benchmark tool records it)."""
    m = meta.get('machine', {})
    where = m.get('gpu') or m.get('cpu', '?')
    amp = meta.get('amp') or 'fp32'
    parts = [
        f"{m.get('device', '?')} ({where}, {m.get('cpu_count', '?')} cores, {m.get('threads', '?')} threads)",
        f"torch {m.get('torch', '?')}", f"batch {meta.get('batch_size')}", f"{meta.get('img_size')} px", amp,
    ]
    if meta.get('channels_last'):
        parts.append('channels_last')
    parts.append(f"modes {'+'.join(meta.get('modes', []))}, {meta.get('rounds')} rounds")
    parts.append('our gates in place' if meta.get('attn_inplace') else 'our gates out of place (default)')
    parts.append(f"load avg before/after {m.get('load_avg')}/{meta.get('load_avg_after')}")
    return ', '.join(parts)
