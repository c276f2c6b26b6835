"""The one description of the machine that measured figures carry."""
from __future__ import annotations

import platform

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
