"""``tools/gpu_check.sh``'s command line: ``--help`` is help, not an output folder.

Only the argument handling is tested here (it runs before anything is imported or measured);
the GPU parts themselves are ``tests/test_benchmark_cuda.py`` and the benchmarks.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / 'tools' / 'gpu_check.sh'


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['bash', str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('flag', ['--help', '-h'])
def test_help_prints_what_it_runs_and_creates_nothing(flag):
    result = _run(flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('GPU check: what can only be measured or tested on a CUDA GPU')
    assert 'bash tools/gpu_check.sh [OUT_DIR]' in result.stdout and '1. the CUDA tests' in result.stdout
    assert '#' not in result.stdout.splitlines()[0] and 'set -u' not in result.stdout
    assert not (REPO / flag).exists()


def test_an_unknown_option_is_refused_with_the_usage():
    result = _run('--out', 'x')
    assert result.returncode == 2
    assert "gpu_check: unknown option '--out'" in result.stderr
    assert 'usage: bash tools/gpu_check.sh [OUT_DIR]' in result.stderr
    assert not (REPO / '--out').exists() and not (REPO / 'x').exists()


def test_more_than_one_argument_is_refused():
    result = _run('out_a', 'out_b')
    assert result.returncode == 2
    assert 'expected at most one argument (OUT_DIR), got 2: out_a out_b' in result.stderr
    assert not (REPO / 'out_a').exists()
