"""Which runs a sweep makes, in what order, and where each run's result lives.

A sweep trains every model (the plain baseline and one model per attention kind) with
every seed. The runs are ordered seed-major: all models with the first seed, then all
with the second, ... A sweep stopped half-way therefore already holds a complete first
row of the table, and every further seed narrows every model's interval alike.

A run is finished when its result file ``<work_dir>/runs/<model>/seed<seed>.json``
exists. It is written atomically (a temporary file renamed into place), so a run killed
while training leaves no result and is redone from its start; finished runs are kept
and skipped. A result read back is checked like any input (:func:`check_result`): a file
someone edited, or one from another version, is named with what is wrong in it rather than
put into the table.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ..atomic_files import atomic_write_text

__all__ = ['BASELINE', 'ResultFileError', 'RunSpec', 'plan_runs', 'model_name', 'result_path', 'check_result',
           'read_result', 'write_result']

# The model name of the plain backbone (no attention).
BASELINE = 'baseline'
# Fields of a result that the reports add up or show: each a finite number >= 0 when present.
_TIMES = ('wall_s', 'cpu_s', 'train_wall_s')


class ResultFileError(ValueError):
    """A recorded result that is not a valid result of its run; the message names the file."""


def model_name(kind: Optional[str]) -> str:
    """Name of a leaderboard model: the kind, or ``'baseline'`` for ``None``."""
    return BASELINE if kind is None else kind


@dataclass(frozen=True)
class RunSpec:
    """One training run: ``kind`` (``None`` for the baseline) with ``seed``."""
    kind: Optional[str]
    seed: int

    @property
    def model(self) -> str:
        return model_name(self.kind)


def plan_runs(kinds: Sequence[Optional[str]], seeds: Sequence[int]) -> list[RunSpec]:
    """Every ``(kind, seed)`` run, seed-major, the baseline first within each seed.

    ``kinds`` may contain ``None`` (the baseline); it is added if missing. Duplicates are
    dropped.
    """
    if not seeds:
        raise ValueError('seeds is empty: a sweep needs at least one seed')
    ordered: list[Optional[str]] = [None]
    for k in kinds:
        if k not in ordered:
            ordered.append(k)
    unique_seeds = list(dict.fromkeys(int(s) for s in seeds))
    return [RunSpec(k, s) for s in unique_seeds for k in ordered]


def result_path(work_dir: str, spec: RunSpec) -> str:
    """Where the result of ``spec`` is (or will be) written."""
    return os.path.join(work_dir, 'runs', spec.model, f'seed{spec.seed}.json')


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_result(record: Any, spec: RunSpec, where: str) -> dict[str, Any]:
    """``record`` if it is a result of ``spec``; else a :class:`ResultFileError` naming ``where`` and the field.

    Accepted: a JSON object with ``model`` and ``seed`` of ``spec``, ``top1`` a number from 0 to
    100 (percent; not NaN, not a string), and ``wall_s`` / ``cpu_s`` / ``train_wall_s``, when
    present, finite numbers >= 0.
    """
    redo = 'delete it to redo the run'
    if not isinstance(record, dict):
        raise ResultFileError(f'result file {where} holds a {type(record).__name__}, not a JSON object; '
                              f'{redo}')
    if record.get('model') != spec.model or record.get('seed') != spec.seed:
        raise ResultFileError(f'result file {where} does not describe {spec.model} seed {spec.seed}; '
                              f'{redo}')
    top1 = record.get('top1')
    if not (_number(top1) and 0 <= top1 <= 100):
        raise ResultFileError(f'result file {where}: top1={top1!r}; expected the top-1 accuracy in percent, '
                              f'a number from 0 to 100; {redo}')
    for key in _TIMES:
        if key in record and not (_number(record[key]) and record[key] >= 0):
            raise ResultFileError(f'result file {where}: {key}={record[key]!r}; expected a number of seconds '
                                  f'>= 0; {redo}')
    return record


def write_result(work_dir: str, spec: RunSpec, result: dict[str, Any]) -> str:
    """Record a finished run (atomically); ``result`` must hold ``top1`` (percent), checked as
    :func:`check_result` checks what is read back."""
    if 'top1' not in result:
        raise ResultFileError(f'result of {spec} has no top1: {sorted(result)}')
    record = check_result(dict(result, model=spec.model, kind=spec.kind, seed=spec.seed), spec,
                          f'{result_path(work_dir, spec)} (being written)')
    return atomic_write_text(result_path(work_dir, spec), json.dumps(record, indent=2, sort_keys=True) + '\n')


def read_result(work_dir: str, spec: RunSpec) -> Optional[dict[str, Any]]:
    """The recorded result of ``spec`` (checked by :func:`check_result`), or ``None`` if the run has not finished."""
    path = result_path(work_dir, spec)
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        try:
            record = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ResultFileError(f'result file {path} is not valid JSON ({e}); delete it to redo the run') from e
    return check_result(record, spec, path)
