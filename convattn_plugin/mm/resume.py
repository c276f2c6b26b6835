"""Which checkpoint ``--resume`` continues from, decided before mmengine's ``Runner`` is built.

mmengine 0.10.7 with ``resume=True`` and no ``load_from`` reads ``<work_dir>/last_checkpoint``;
when that file is missing it silently starts again at epoch 1 and overwrites the run's
``epoch_*.pth``, and when the newest checkpoint is torn (a kill or a full disk during the
save) it fails instead of using the intact one before it. :func:`prepare_resume` sets
``cfg.load_from`` itself, through the public ``resume`` / ``load_from`` fields:

* ``--resume`` (auto): the newest intact checkpoint of the work dir (``last_checkpoint``
  first, then ``epoch_*.pth`` / ``iter_*.pth`` newest first), with a warning naming each torn
  one it skips; no checkpoint at all is an error that says how to start fresh.
* no ``--resume``: a work dir that already holds a run's checkpoints is refused, since the new
  run would overwrite them; pass ``--resume`` or another ``--work-dir``.
"""
from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Optional

__all__ = ['ResumeError', 'run_checkpoints', 'checkpoint_damage', 'resume_checkpoint', 'prepare_resume']

_RUN_CHECKPOINT = re.compile(r'^(?:epoch|iter)_(\d+)\.pth$')


class ResumeError(RuntimeError):
    """``--resume`` has nothing intact to resume, or a fresh run would overwrite checkpoints."""


def run_checkpoints(work_dir: Path) -> list[Path]:
    """The ``epoch_N.pth`` / ``iter_N.pth`` files of a work dir, newest (highest N) first."""
    if not Path(work_dir).is_dir():
        return []
    found = [(int(m[1]), p) for p in Path(work_dir).iterdir() if (m := _RUN_CHECKPOINT.match(p.name))]
    return [p for _, p in sorted(found, key=lambda t: (t[0], t[1].stat().st_mtime), reverse=True)]


def checkpoint_damage(path: Path) -> Optional[str]:
    """Why ``path`` cannot be resumed from (missing, empty, a torn zip), or ``None`` if it is intact.

    ``torch.save`` writes a zip archive whose directory is at its end, with a CRC per entry: a
    file cut short or with damaged bytes fails ``zipfile``'s test.
    """
    path = Path(path)
    if not path.is_file():
        return 'missing'
    if path.stat().st_size == 0:
        return 'empty (0 bytes)'
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        return f'torn ({type(e).__name__}: {e})'
    return f'torn (bad CRC in {bad})' if bad else None


def resume_checkpoint(work_dir: Path) -> Path:
    """The newest intact checkpoint of ``work_dir`` (see the module docstring).

    Raises:
        ResumeError: No checkpoint, or none intact.
    """
    work_dir = Path(work_dir)
    candidates: list[Path] = []
    last = work_dir / 'last_checkpoint'
    if last.is_file() and last.read_text().strip():
        named = Path(last.read_text().strip())
        candidates.append(named if named.is_file() or named.is_absolute() else work_dir / named.name)
    candidates += [p for p in run_checkpoints(work_dir) if p.resolve() not in {c.resolve() for c in candidates}]
    if not candidates:
        raise ResumeError(f'--resume: nothing to resume in {work_dir}: no last_checkpoint and no epoch_*.pth / '
                          'iter_*.pth. Run without --resume to start a fresh run there, or pass --resume '
                          '<checkpoint> to continue from a given file.')
    skipped = []
    for path in candidates:
        damage = checkpoint_damage(path)
        if damage is None:
            if skipped:
                warnings.warn(f'--resume: skipped {"; ".join(skipped)}; resuming from {path}, the newest intact '
                              'checkpoint (the epochs after it are trained again)')
            return path
        skipped.append(f'{path} ({damage})')
    raise ResumeError(f'--resume: no intact checkpoint in {work_dir}: {"; ".join(skipped)}')


def prepare_resume(cfg: Any) -> None:
    """Set ``cfg.load_from`` for ``--resume``, or refuse to overwrite a run (module docstring).

    Args:
        cfg: An mmengine ``Config`` after the command-line arguments are merged (``work_dir``,
            ``resume``, ``load_from`` set as mmpretrain's ``train.py`` sets them).

    Raises:
        ResumeError: See :func:`resume_checkpoint`, or a fresh run into a work dir with checkpoints.
    """
    work_dir = Path(cfg.work_dir)
    if cfg.get('resume') and cfg.get('load_from') is None:
        cfg.load_from = str(resume_checkpoint(work_dir))
    elif not cfg.get('resume'):
        existing = run_checkpoints(work_dir)
        if existing:
            names = ', '.join(p.name for p in existing[:5]) + (' ...' if len(existing) > 5 else '')
            raise ResumeError(f'{work_dir} already holds the checkpoints of a run ({names}); a new run there would '
                              'overwrite them. Pass --resume to continue that run, or --work-dir <another folder> '
                              'to start a fresh one.')
