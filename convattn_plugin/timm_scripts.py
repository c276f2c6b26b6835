"""Run timm's own scripts (``train.py``, ``validate.py``, ``benchmark.py``, ``inference.py``) on our models.

timm's scripts create models by name and never import plugins, so on their own they answer
``Unknown model (resnet18_cbam)``. This runner imports :mod:`convattn_plugin` (which
registers every ``{backbone}_{kind}`` model into timm) and then runs the script as
``__main__`` with the remaining arguments, unchanged::

    python -m convattn_plugin.timm_scripts train --model resnet18_cbam --data-dir DATA ...
    python -m convattn_plugin.timm_scripts validate DATA --model resnet18_cbam --checkpoint ...

Where the scripts come from: they are not in timm's wheel nor in its source distribution on
PyPI, only in timm's git repository. The runner looks, in this order, in ``--timm-dir DIR``,
in ``$TIMM_SCRIPTS_DIR`` (a checkout of huggingface/pytorch-image-models, ideally at the tag
of the installed timm), and in a cache folder filled by ``python -m convattn_plugin.timm_scripts
fetch`` (downloads the tag ``v<installed timm version>`` from GitHub). Without network,
``fetch`` fails with one line that names the URL, the reason and the two ways around it
(``--timm-dir`` or ``$TIMM_SCRIPTS_DIR`` pointing to a clone).
"""
from __future__ import annotations

import io
import os
import runpy
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional, Sequence

__all__ = ['SCRIPTS', 'FetchError', 'find_script', 'fetch_scripts', 'run_script', 'main']

SCRIPTS = ('train', 'validate', 'benchmark', 'inference')
ENV_DIR = 'TIMM_SCRIPTS_DIR'
_ARCHIVE = 'https://github.com/huggingface/pytorch-image-models/archive/refs/tags/v{version}.tar.gz'


class FetchError(RuntimeError):
    """``fetch`` could not get timm's scripts; the message says why and what to do instead."""


def _timm_version() -> str:
    from importlib.metadata import version
    return version('timm')


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/convattn_plugin/timm-scripts/<timm version>`` (``~/.cache`` by default)."""
    base = Path(os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache')
    return base / 'convattn_plugin' / 'timm-scripts' / _timm_version()


def find_script(name: str, timm_dir: Optional[str] = None) -> Path:
    """Path of timm's ``<name>.py``.

    Args:
        name: One of :data:`SCRIPTS`.
        timm_dir: A folder holding timm's scripts (a pytorch-image-models checkout).

    Raises:
        ValueError: An unknown script name.
        FileNotFoundError: The script is in none of the places searched; says how to get it.
    """
    if name not in SCRIPTS:
        raise ValueError(f'unknown timm script {name!r}; accepted: {", ".join(SCRIPTS)}')
    places = [(f'--timm-dir {timm_dir}', timm_dir), (f'${ENV_DIR}', os.environ.get(ENV_DIR)),
              ('the cache', str(cache_dir()))]
    for _, folder in places:
        if folder and (Path(folder) / f'{name}.py').is_file():
            return Path(folder) / f'{name}.py'
    searched = '; '.join(f'{label} ({folder or "not set"})' for label, folder in places)
    raise FileNotFoundError(
        f"timm's {name}.py was not found (searched: {searched}). timm ships its scripts only in its git "
        f'repository: run `python -m convattn_plugin.timm_scripts fetch` (downloads tag v{_timm_version()} '
        'from GitHub), or clone https://github.com/huggingface/pytorch-image-models and pass '
        f'--timm-dir or set {ENV_DIR}')


def fetch_scripts(url: Optional[str] = None) -> Path:
    """Download timm's repository archive for the installed version; keep its scripts in the cache.

    Returns:
        The cache folder holding ``train.py``, ``validate.py``, ``benchmark.py``, ``inference.py``.

    Raises:
        FetchError: No network, no such tag, or not an archive of timm's repository; the message
            names the URL and the alternatives (``--timm-dir``, ``$TIMM_SCRIPTS_DIR``).
    """
    version = _timm_version()
    url = url or _ARCHIVE.format(version=version)
    instead = (f'Instead, clone https://github.com/huggingface/pytorch-image-models (tag v{version}) where there is '
               f'network, and pass --timm-dir CLONE (before the script name) or set {ENV_DIR}=CLONE')
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (a fixed https URL)
            data = response.read()
    except OSError as e:  # URLError (no network, DNS, proxy), HTTPError (no such tag), timeouts
        reason = e.reason if isinstance(e, urllib.error.URLError) else e
        raise FetchError(f"could not download timm's scripts from {url}: {reason}. {instead}") from e
    target = cache_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix='.fetch-'))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode='r:gz') as archive:
            for member in archive.getmembers():
                parts = member.name.split('/')
                if len(parts) == 2 and parts[1] in {f'{s}.py' for s in SCRIPTS} and member.isfile():
                    (staging / parts[1]).write_bytes(archive.extractfile(member).read())
    except (tarfile.TarError, EOFError, OSError) as e:  # a proxy's HTML page, a truncated download
        shutil.rmtree(staging, ignore_errors=True)
        raise FetchError(f'{url} did not give a gzipped tar archive ({e}). {instead}') from e
    missing = [s for s in SCRIPTS if not (staging / f'{s}.py').is_file()]
    if missing:
        shutil.rmtree(staging, ignore_errors=True)
        raise FetchError(f'{url} has no {", ".join(f"{s}.py" for s in missing)} at its top level. {instead}')
    if target.exists():  # replace a previous fetch only once the new one is complete
        for old in target.iterdir():
            old.unlink()
        target.rmdir()
    staging.rename(target)
    return target


def run_script(name: str, args: Sequence[str], timm_dir: Optional[str] = None) -> None:
    """Register our models into timm, then run timm's ``<name>.py`` as ``__main__`` with ``args``."""
    script = find_script(name, timm_dir)
    import convattn_plugin  # noqa: F401  (registers the models into timm)

    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))
    runpy.run_path(str(script), run_name='__main__')


_USAGE = f"""usage: python -m convattn_plugin.timm_scripts [--timm-dir DIR] {{{','.join(SCRIPTS)}}} [ARGS ...]
       python -m convattn_plugin.timm_scripts fetch
       python -m convattn_plugin.timm_scripts where

Runs timm's own script with convattn_plugin's models registered; ARGS go to the script as
they are (e.g. `train --model resnet18_cbam --data-dir DATA --device cpu`).
  --timm-dir DIR  folder with timm's scripts (a pytorch-image-models checkout);
                  default: ${ENV_DIR}, then the cache that `fetch` fills.
  fetch           download the scripts of the installed timm's tag from GitHub.
  where           print where each script is found."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    timm_dir = None
    if args[:1] == ['--timm-dir']:
        if len(args) < 2:
            print(_USAGE, file=sys.stderr)
            return 2
        timm_dir, args = args[1], args[2:]
    if not args or args[0] in ('-h', '--help'):
        print(_USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == 'fetch':
        try:
            print(fetch_scripts())
        except FetchError as e:
            print(f'fetch: {e}', file=sys.stderr)
            return 1
        return 0
    if command == 'where':
        for name in SCRIPTS:
            try:
                print(f'{name}: {find_script(name, timm_dir)}')
            except FileNotFoundError as e:
                print(f'{name}: {e}')
        return 0
    if command not in SCRIPTS:
        print(f'unknown command {command!r}; accepted: {", ".join((*SCRIPTS, "fetch", "where"))}\n\n{_USAGE}',
              file=sys.stderr)
        return 2
    try:
        script = find_script(command, timm_dir)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    run_script(command, rest, str(script.parent))
    return 0


if __name__ == '__main__':
    sys.exit(main())
