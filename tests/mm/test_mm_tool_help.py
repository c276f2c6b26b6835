"""--help of the OpenMMLab-side tools: parsed before any heavy import, description shown once."""
from __future__ import annotations

import subprocess
import sys

import pytest

# Blocks the heavy packages: a tool that imports one before parsing its arguments fails.
BLOCKED = "import runpy, sys\nfor m in ('torch', 'mmengine', 'mmpretrain', 'timm'): sys.modules[m] = None\n"


def test_digits_compare_help_needs_no_heavy_import_and_says_it_once(kit):
    tool = kit.TOOLS / 'digits_compare.py'
    code = BLOCKED + f"sys.argv = [{str(tool)!r}, '--help']\nrunpy.run_path({str(tool)!r}, run_name='__main__')\n"
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count('The main job: ResNet-18 with CBAM') == 1
    assert '--threads' in proc.stdout and 'OMP_NUM_THREADS' in proc.stdout


@pytest.mark.parametrize('script, usage', [('dist_train.sh', 'tools/dist_train.sh CONFIG GPUS'),
                                           ('slurm_train.sh', 'slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR')])
def test_shell_tools_print_usage(kit, script, usage):
    ok = subprocess.run(['bash', str(kit.TOOLS / script), '--help'], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and usage in ok.stdout and ok.stdout.count(usage) == 1
    missing = subprocess.run(['bash', str(kit.TOOLS / script)], capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and usage in missing.stdout


@pytest.mark.parametrize('tool, option, positional', [('train.py', '--resume', ['cfg.py']),
                                                       ('test.py', '--out-item', ['cfg.py', 'ckpt.pth'])])
def test_train_and_test_help_are_mmpretrains_own_parsers(kit, tool, option, positional):
    # the tool's own parse_args(), loaded from the installed mmpretrain: its options, its usage line
    proc = subprocess.run([sys.executable, str(kit.TOOLS / tool), '--help'], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith(f'usage: {tool}') and option in proc.stdout and '--cfg-options' in proc.stdout
    bad = subprocess.run([sys.executable, str(kit.TOOLS / tool), *positional, '--no-such-option'],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and 'unrecognized arguments: --no-such-option' in bad.stderr
