"""Which runs a sweep makes, in what order, and where each run's result lives.

A sweep trains every model (the plain baseline and one model per attention kind) with
every seed. The runs are ordered seed-major: all models with the first seed, then all
with the second, ... A sweep stopped half-way therefore already holds a complete first
row of the table, and every further seed narrows every model's interval alike.

A run is finished when its result file ``<work_dir>/runs/<model>/seed<seed>.json``
exists. It is written atomically (a temporary file renamed into place), so a run killed
while training leaves no result and is redone from its start; finished runs are kept
and skipped.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ..analysis.atomic_files import atomic_write_text

__all__ = ['BASELINE', 'RunSpec', 'plan_runs', 'model_name', 'result_path', 'read_result', 'write_result']

# The model name of the plain backbone (no attention).
BASELINE = 'baseline'


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


def write_result(work_dir: str, spec: RunSpec, result: dict[str, Any]) -> str:
    """Record a finished run (atomically); ``result`` must hold ``top1`` (percent)."""
    if 'top1' not in result:
        raise ValueError(f'result of {spec} has no top1: {sorted(result)}')
    record = dict(result, model=spec.model, kind=spec.kind, seed=spec.seed)
    return atomic_write_text(result_path(work_dir, spec), json.dumps(record, indent=2, sort_keys=True) + '\n')


def read_result(work_dir: str, spec: RunSpec) -> Optional[dict[str, Any]]:
    """The recorded result of ``spec``, or ``None`` if the run has not finished."""
    path = result_path(work_dir, spec)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        try:
            record = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'result file {path} is not valid JSON ({e}); delete it to redo the run') from e
    if record.get('model') != spec.model or record.get('seed') != spec.seed or 'top1' not in record:
        raise ValueError(f'result file {path} does not describe {spec.model} seed {spec.seed}; delete it to redo '
                         'the run')
    return record
