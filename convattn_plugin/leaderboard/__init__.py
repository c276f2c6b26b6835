"""Which attention helps, and at what cost: a leaderboard on real data.

``python tools/leaderboard.py --data fashion-mnist`` trains the plain backbone and each
attention kind with several seeds through mmengine's ``Runner`` and the recipes in
``configs/leaderboard/``, resumes a stopped sweep where it was, and reports top-1 (mean,
spread, paired difference to the baseline with a t interval) with params, FLOPs and
latency overhead as Markdown, CSV, JSON and a Pareto plot.

* :mod:`.plan` -- the runs, their order and their result files;
* :mod:`.recipes` -- the config of each data set / profile and of one run;
* :mod:`.trainer` -- one run through mmengine's ``Runner``;
* :mod:`.progress` -- progress bars;
* :mod:`.sweep` -- the whole sweep (:func:`run_leaderboard`);
* :mod:`.stats`, :mod:`.cost`, :mod:`.report`, :mod:`.plot` -- the numbers and the outputs.

Importing this package is light: torch and mmengine load when a sweep runs.
"""
from .plan import BASELINE, RunSpec, plan_runs, read_result, result_path, write_result
from .stats import PairedDiff, SeedSummary, paired_difference, summarize, t_quantile, verdict

__all__ = [
    'BASELINE', 'RunSpec', 'plan_runs', 'read_result', 'result_path', 'write_result',
    'PairedDiff', 'SeedSummary', 'paired_difference', 'summarize', 't_quantile', 'verdict',
    'run_leaderboard', 'run_sweep',
]


def __getattr__(name: str):
    if name in ('run_leaderboard', 'run_sweep'):
        from . import sweep

        return getattr(sweep, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
