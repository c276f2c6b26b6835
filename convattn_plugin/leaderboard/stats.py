"""Statistics of a leaderboard: spread over seeds and paired differences to the baseline.

Every model is trained with every seed, and a seed fixes the order of the training
images and the augmentation draws for all models alike. The comparison that removes
what the runs of one seed share is the *paired* one: for model ``m`` and each seed
``s`` present for both models,
``d_s = top1(m, s) - top1(baseline, s)``. Its mean, with a two-sided confidence interval
from Student's t distribution with ``n - 1`` degrees of freedom,

    mean(d) +- t_{(1 + level) / 2, n - 1} * sd(d) / sqrt(n),   sd with n - 1 in the denominator,

says whether the kind beats the baseline beyond the spread of the seeds. One seed gives
no interval (``nan``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

__all__ = ['SeedSummary', 'PairedDiff', 'summarize', 'paired_difference', 't_quantile', 'verdict']


def t_quantile(p: float, dof: int) -> float:
    """The ``p`` quantile of Student's t distribution with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError(f't_quantile: dof must be >= 1, got {dof}')
    if not 0.0 < p < 1.0:
        raise ValueError(f't_quantile: p must be in (0, 1), got {p}')
    from scipy.stats import t  # scipy comes with scikit-learn (the mm extra)

    return float(t.ppf(p, dof))


@dataclass(frozen=True)
class SeedSummary:
    """Top-1 of one model over its seeds."""
    n: int
    mean: float
    std: float  # sample standard deviation (n - 1); nan for one seed


def summarize(values: Sequence[float]) -> SeedSummary:
    """Mean and sample standard deviation of ``values``."""
    n = len(values)
    if n == 0:
        return SeedSummary(0, math.nan, math.nan)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else math.nan
    return SeedSummary(n, mean, std)


@dataclass(frozen=True)
class PairedDiff:
    """``model - baseline`` over the seeds both have."""
    n: int
    mean: float
    low: float
    high: float
    level: float


def paired_difference(model: Mapping[int, float], baseline: Mapping[int, float], level: float = 0.95) -> PairedDiff:
    """Paired difference of top-1 ``{seed: value}`` maps, with its ``level`` t interval."""
    if not 0.0 < level < 1.0:
        raise ValueError(f'paired_difference: level must be in (0, 1), got {level}')
    seeds = sorted(set(model) & set(baseline))
    diffs = [model[s] - baseline[s] for s in seeds]
    n = len(diffs)
    if n == 0:
        return PairedDiff(0, math.nan, math.nan, math.nan, level)
    mean = sum(diffs) / n
    if n == 1:
        return PairedDiff(1, mean, math.nan, math.nan, level)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile((1.0 + level) / 2.0, n - 1) * sd / math.sqrt(n)
    return PairedDiff(n, mean, mean - half, mean + half, level)


def verdict(diff: PairedDiff) -> str:
    """``'better'`` / ``'worse'`` when the interval excludes 0, ``'within noise'`` if not, ``'-'`` without one."""
    if math.isnan(diff.low) or math.isnan(diff.high):
        return '-'
    if diff.low > 0:
        return 'better'
    if diff.high < 0:
        return 'worse'
    return 'within noise'
