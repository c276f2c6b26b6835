"""A leaderboard sweep: train every (model, seed) run not yet finished, then report.

:func:`run_leaderboard` is what ``tools/leaderboard.py`` calls. The runs are made in
the order of :func:`.plan.plan_runs` (seed-major); finished runs (a result file exists)
are skipped, so calling it again after an interruption resumes the sweep. The cost of
every model is measured in the same session, after the runs; then the Markdown, CSV and
JSON tables and the Pareto plot are written to ``<work_dir>/leaderboard.*``.
"""
from __future__ import annotations

import datetime
import functools
import os
from typing import Callable, Optional, Sequence

from ..layers import get_attn_info, list_attentions
from ..machine import machine_info

from .plan import BASELINE, RunSpec, plan_runs, read_result, write_result
from .progress import runs_bar
from .recipes import check_profile_device, recipe_path

__all__ = ['run_sweep', 'run_leaderboard', 'resolve_kinds', 'preflight']

Trainer = Callable[[RunSpec], dict]


def resolve_kinds(kinds: Optional[Sequence[str]]) -> list[Optional[str]]:
    """``kinds`` checked against the registry (``None``: every registered kind), baseline first."""
    names = list_attentions() if kinds is None else [get_attn_info(k).name for k in kinds]
    return [None] + [k for k in dict.fromkeys(names)]


def preflight(data: str, profile: str, kinds: Optional[Sequence[str]], seeds: int, data_root: Optional[str] = None,
              jobs: int = 1, need_device: bool = True) -> list[Optional[str]]:
    """Check a sweep's arguments before anything runs; returns the kinds (baseline first).

    Raises ``ValueError``, ``FileNotFoundError`` or ``RuntimeError`` (no CUDA for the GPU
    profile) with a message that names the argument and what is accepted.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f'seeds must be a positive number of seeds, got {seeds!r}')
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f'jobs must be a positive number of processes, got {jobs!r}')
    recipe_path(data, profile)  # checks data and profile
    all_kinds = resolve_kinds(kinds)
    if data == 'fashion-mnist':
        from ..mm.fashion_mnist import FASHION_MNIST_DIR, FASHION_MNIST_FILES, find_idx_file

        for names in FASHION_MNIST_FILES.values():
            for name in names:
                find_idx_file(data_root or FASHION_MNIST_DIR, name)
    elif data_root is not None:
        raise ValueError('data_root does not apply to digits (they ship inside scikit-learn)')
    if need_device:
        check_profile_device(profile)
    return all_kinds


def run_sweep(specs: Sequence[RunSpec], work_dir: str, trainer: Trainer, jobs: int = 1, progress: bool = True,
              on_result: Optional[Callable[[RunSpec, dict], None]] = None) -> list[dict]:
    """Make every unfinished run of ``specs`` with ``trainer``; return all results in ``specs`` order.

    ``trainer(spec)`` returns the run's result (with ``top1``); it is recorded atomically
    as soon as the run ends. With ``jobs > 1`` the runs go to that many worker processes
    (``trainer`` must then be picklable).
    """
    if jobs < 1:
        raise ValueError(f'jobs must be >= 1, got {jobs}')
    results: dict[RunSpec, dict] = {}
    for spec in specs:
        done = read_result(work_dir, spec)
        if done is not None:
            results[spec] = done
    todo = [s for s in specs if s not in results]
    bar = runs_bar(len(specs), len(results), enabled=progress)

    def record(spec: RunSpec, result: dict) -> None:
        write_result(work_dir, spec, result)
        results[spec] = read_result(work_dir, spec)
        bar.update(1)
        bar.set_postfix_str(f'{spec.model} seed {spec.seed}: {result["top1"]:.2f} %')
        if on_result is not None:
            on_result(spec, results[spec])

    try:
        if jobs == 1:
            for spec in todo:
                bar.set_postfix_str(f'{spec.model} seed {spec.seed}')
                record(spec, trainer(spec))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context('spawn')) as pool:
                futures = {pool.submit(trainer, spec): spec for spec in todo}
                for fut in as_completed(futures):
                    record(futures[fut], fut.result())
    finally:
        bar.close()
    return [results[s] for s in specs]


def run_leaderboard(data: str = 'digits', kinds: Optional[Sequence[str]] = None, seeds: int = 3,
                    work_dir: Optional[str] = None, data_root: Optional[str] = None, profile: str = 'cpu',
                    jobs: int = 1, threads: Optional[int] = None, cfg_options: Optional[dict] = None,
                    trainer: Optional[Trainer] = None, measure_cost: bool = True, progress: bool = True,
                    command: str = '') -> dict[str, str]:
    """Train, measure and report a leaderboard (see the module docstring).

    Args:
        data: ``'digits'`` or ``'fashion-mnist'``.
        kinds: Attention kinds to compare with the baseline; ``None``: every registered kind.
        seeds: Number of seeds (0, 1, ..., seeds - 1).
        work_dir: Where runs, logs and reports go (default ``work_dirs/leaderboard_<data>_<profile>``).
        data_root: Folder of the data files (Fashion-MNIST).
        profile: ``'cpu'`` or ``'gpu'`` recipe (see :mod:`.recipes`).
        jobs: Runs trained at once, in separate processes.
        threads: torch threads per run (``None``: as set by ``OMP_NUM_THREADS`` / torch).
        cfg_options: Overrides of every run's config (``{dotted.key: value}``); they are
            recorded in each result, so change ``work_dir`` when changing them.
        trainer: Replaces the real training (tests inject a fast fake).
        measure_cost: Measure params, FLOPs and latency (else those columns are empty).
        progress: Show progress bars.
        command: The command line, recorded in the reports.

    Returns:
        Paths of the written files by format (``md``, ``csv``, ``json``, ``png``).
    """
    from .cost import measure_costs
    from .plot import plot_pareto
    from .report import leaderboard_rows, write_reports
    from .trainer import train_run

    all_kinds = preflight(data, profile, kinds, seeds, data_root, jobs, need_device=trainer is None)
    recipe = recipe_path(data, profile)
    work_dir = work_dir or os.path.join('work_dirs', f'leaderboard_{data}_{profile}')
    specs = plan_runs(all_kinds, range(seeds))
    if trainer is None:
        trainer = functools.partial(train_run, data=data, profile=profile, work_dir=work_dir, data_root=data_root,
                                    cfg_options=cfg_options, progress=progress and jobs == 1, threads=threads)
    started = datetime.datetime.now(datetime.timezone.utc)
    runs = run_sweep(specs, work_dir, trainer, jobs=jobs, progress=progress)
    costs = None
    if measure_cost:
        device = 'cuda' if profile == 'gpu' else 'cpu'
        costs = measure_costs(data, profile, all_kinds, device=device)
    rows = leaderboard_rows(runs, costs)
    machine = machine_info()
    wall = sum(float(r.get('wall_s', 0.0)) for r in runs)
    cpu = sum(float(r.get('cpu_s', 0.0)) for r in runs)
    meta = dict(
        title=f'### Leaderboard: {data}, profile {profile} ({seeds} seed{"s" if seeds > 1 else ""})',
        data=data, profile=profile, recipe=os.path.relpath(recipe), seeds=seeds, command=command,
        machine=machine, started_utc=started.isoformat(timespec='seconds'),
        finished_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        notes=[f'command: `{command}`' if command else 'command: (library call)',
               f'recipe: `{os.path.relpath(recipe)}`',
               f'machine: {machine["cpu"]}, {machine["cpu_count"]} cores, load average {machine["load_avg"]} at the end'
               + (f', GPU {machine["gpu"]}' if 'gpu' in machine else ''),
               f'{len(runs)} runs: {wall / 60:.1f} min of wall time and {cpu / 60:.1f} min of CPU time in all '
               '(one process each; on a shared machine the CPU time is the better guide to an idle one)',
               'Δ top-1: paired difference to the baseline over the seeds (percentage points), with its 95 % '
               "t interval; reading: 'better'/'worse' when the interval excludes 0"])
    if costs is not None:
        meta['notes'].append(
            'cost columns: measured in this session on the untrained models at the recipe input size; latency per '
            f'image of a batch of 32 ({"CPU time of one thread" if costs[BASELINE].clock == "cpu" else "wall time"}), '
            'median of paired per-round ratios to the baseline, IQR in brackets')
    paths = write_reports(os.path.join(work_dir, 'leaderboard'), rows, runs, meta)
    if costs is not None:
        paths['png'] = plot_pareto(rows, os.path.join(work_dir, 'leaderboard.png'),
                                   title=f'{data} ({profile} recipe, {seeds} seeds): top-1 vs latency overhead')
    return paths
