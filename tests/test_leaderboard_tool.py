"""tools/leaderboard.py: its help, and one-line errors before any training starts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / 'tools' / 'leaderboard.py'


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, env=env, timeout=120)


def test_help_explains_the_columns_and_options():
    proc = run('--help')
    assert proc.returncode == 0
    for text in ('--data {digits,fashion-mnist}', '--seeds', '--kinds', '--profile {cpu,gpu}', '--jobs',
                 'paired difference', 'resumes'):
        assert text in proc.stdout
    assert proc.stdout.count('Which attention helps') == 1  # the description once


def test_missing_data_is_one_clear_line(tmp_path):
    proc = run('--data', 'fashion-mnist', '--data-root', str(tmp_path), '--work-dir', str(tmp_path / 'w'))
    assert proc.returncode == 1
    assert proc.stderr.startswith('leaderboard: error: Fashion-MNIST file missing: neither ')
    assert 'apt-get install dataset-fashion-mnist' in proc.stderr and 'Traceback' not in proc.stderr
    assert not (tmp_path / 'w').exists()  # nothing ran


def test_unknown_kind_lists_the_known_ones(tmp_path):
    proc = run('--kinds', 'se', 'squeeze', '--work-dir', str(tmp_path / 'w'))
    assert proc.returncode == 1
    assert "unknown attention kind 'squeeze'; known kinds: " in proc.stderr and 'cbam' in proc.stderr
