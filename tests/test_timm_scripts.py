"""timm's own scripts run our models through ``python -m convattn_plugin.timm_scripts``.

timm ships ``train.py`` / ``validate.py`` / ``benchmark.py`` / ``inference.py`` only in its git
repository. The end-to-end test runs the real ones wherever the runner finds them
(``$TIMM_SCRIPTS_DIR`` or the cache that ``python -m convattn_plugin.timm_scripts fetch``
fills); the other tests use a stand-in script and need nothing from outside.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from convattn_plugin import timm_scripts
from convattn_plugin.timm_scripts import SCRIPTS, FetchError, fetch_scripts, find_script, main

RUNNER = [sys.executable, '-m', 'convattn_plugin.timm_scripts']


def _run(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', **(env or {})}
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_runner_registers_the_models_and_passes_the_arguments(tmp_path):
    (tmp_path / 'train.py').write_text(textwrap.dedent('''
        import json, sys
        import timm
        if __name__ == '__main__':
            print(json.dumps({'argv': sys.argv[1:], 'known': timm.is_model('resnet18_cbam')}))
    '''))
    result = _run([*RUNNER, '--timm-dir', str(tmp_path), 'train', '--model', 'resnet18_cbam', '-b', '16'])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {'argv': ['--model', 'resnet18_cbam', '-b', '16'], 'known': True}


def test_missing_scripts_say_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    monkeypatch.delenv('TIMM_SCRIPTS_DIR', raising=False)
    assert main(['validate', '--model', 'resnet18_cbam']) == 2
    err = capsys.readouterr().err
    assert "timm's validate.py was not found" in err
    assert 'python -m convattn_plugin.timm_scripts fetch' in err and 'TIMM_SCRIPTS_DIR' in err
    assert main(['trian']) == 2
    assert "unknown command 'trian'; accepted: train, validate" in capsys.readouterr().err


def test_fetch_without_network_is_one_line_naming_the_alternatives(tmp_path, monkeypatch, capsys):
    """No network (here: a URL that cannot be opened) gives one line, not a URLError traceback."""
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    monkeypatch.setattr(timm_scripts, '_ARCHIVE', (tmp_path / 'no-such-v{version}.tar.gz').as_uri())
    assert main(['fetch']) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'Traceback' not in err
    assert err.startswith("fetch: could not download timm's scripts from file://")
    assert '--timm-dir CLONE' in err and 'TIMM_SCRIPTS_DIR=CLONE' in err
    assert 'https://github.com/huggingface/pytorch-image-models' in err
    assert not (tmp_path / 'cache').exists() or not any((tmp_path / 'cache').rglob('*.py'))


def _archive(path: Path, names: list[str]) -> str:
    with tarfile.open(path, 'w:gz') as tar:
        for name in names:
            data = f'print({name!r})\n'.encode()
            info = tarfile.TarInfo(f'pytorch-image-models-1.0/{name}')
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path.as_uri()


def test_fetch_refuses_what_is_not_timms_archive(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    (tmp_path / 'portal.html').write_text('<html>sign in to the Wi-Fi</html>')
    with pytest.raises(FetchError, match=r'portal.html did not give a gzipped tar archive .*--timm-dir CLONE'):
        fetch_scripts((tmp_path / 'portal.html').as_uri())
    with pytest.raises(FetchError, match=r'has no validate.py, benchmark.py, inference.py at its top level'):
        fetch_scripts(_archive(tmp_path / 'partial.tar.gz', ['train.py']))
    # Neither failure leaves a half-filled cache behind.
    assert not any((tmp_path / 'cache').rglob('*.py'))


def test_fetch_keeps_the_four_scripts(tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    folder = fetch_scripts(_archive(tmp_path / 'v.tar.gz', [f'{s}.py' for s in SCRIPTS] + ['setup.py']))
    assert sorted(p.name for p in folder.iterdir()) == sorted(f'{s}.py' for s in SCRIPTS)
    assert find_script('validate') == folder / 'validate.py'


def test_timm_alone_does_not_know_our_models():
    """timm's scripts never import plugins: without the runner, timm says 'Unknown model'."""
    result = _run([sys.executable, '-c', "import timm; timm.create_model('resnet18_cbam')"])
    assert result.returncode != 0 and 'Unknown model (resnet18_cbam)' in result.stderr


def _digits_image_folder(root: Path, n_train: int = 100, n_val: int = 50) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    for split, indices in (('train', range(n_train)), ('validation', range(n_train, n_train + n_val))):
        for i in indices:
            folder = root / split / str(digits.target[i])
            folder.mkdir(parents=True, exist_ok=True)
            pixels = (digits.images[i] * 16).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).convert('RGB').resize((32, 32)).save(folder / f'{i}.png')


def test_timm_train_then_validate_our_model(tmp_path):
    try:
        scripts = find_script('train').parent
        find_script('validate')
    except FileNotFoundError as e:
        pytest.skip(f"timm's scripts are not on this machine: {e}")
    _digits_image_folder(tmp_path / 'digits')
    common = ['--model', 'resnet18_cbam', '--num-classes', '10', '--img-size', '32', '-b', '16',
              '--device', 'cpu', '--workers', '0']
    train = _run([*RUNNER, '--timm-dir', str(scripts), 'train', '--data-dir', str(tmp_path / 'digits'), *common,
                  '--epochs', '1', '--warmup-epochs', '0', '--lr', '0.05', '--output', str(tmp_path / 'out'),
                  '--experiment', 'run'], cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    checkpoint = tmp_path / 'out' / 'run' / 'model_best.pth.tar'
    assert checkpoint.is_file()
    train_top1 = float(re.search(r'\*\*\* Best metric: ([0-9.]+)', train.stdout + train.stderr).group(1))

    validate = _run([*RUNNER, '--timm-dir', str(scripts), 'validate', str(tmp_path / 'digits'), *common,
                     '--checkpoint', str(checkpoint)], cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr[-3000:]
    top1 = float(re.search(r'"top1": ([0-9.]+)', validate.stdout).group(1))
    # validate.py evaluates the best checkpoint on the split train.py scored it on.
    assert top1 == pytest.approx(train_top1, abs=0.01)
