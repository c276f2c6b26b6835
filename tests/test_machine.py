"""The one description of the machine that measured figures carry."""
from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch

from convattn_plugin.machine import available_cores, describe_run, machine_info, machine_summary


def test_summary_and_info_name_the_same_machine():
    info = machine_info()
    assert info['device'] == ('cuda' if torch.cuda.is_available() else 'cpu')
    assert info['cpu_count'] == available_cores() >= 1 and info['torch'] == torch.__version__
    line = machine_summary()
    assert f'{available_cores()} cores available' in line and f'torch {torch.__version__}' in line
    assert f'Python {platform.python_version()}' in line and info['cpu'] in line


def test_describe_run_says_what_was_measured_where():
    meta = dict(machine=machine_info(torch.device('cpu')), batch_size=8, img_size=64, modes=['infer'], rounds=3)
    line = describe_run(meta)
    assert line.startswith('cpu (') and 'batch 8' in line and '64 px' in line and 'modes infer, 3 rounds' in line


@pytest.mark.skipif(not hasattr(os, 'sched_setaffinity'), reason='no CPU affinity on this OS (Linux only)')
def test_available_cores_are_the_process_affinity_not_the_machine():
    # A run pinned to one core (taskset, a container's cpuset) reports 1, whatever os.cpu_count() says.
    code = 'from convattn_plugin.machine import available_cores, machine_info; print(available_cores(), machine_info()["cpu_count"])'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, timeout=120,
                         preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
    assert out.stdout.split() == ['1', '1']
    assert 1 <= available_cores() <= (os.cpu_count() or 1)
