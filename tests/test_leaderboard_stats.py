"""Leaderboard statistics: spread over seeds and the paired t interval, against hand values."""
from __future__ import annotations

import math

import pytest

from convattn_plugin.leaderboard.stats import paired_difference, summarize, t_quantile, verdict


def test_t_quantiles_match_tables():
    # Student's t, two-sided 95 % (tables: 12.706, 4.303, 3.182).
    assert t_quantile(0.975, 1) == pytest.approx(12.7062047, rel=1e-6)
    assert t_quantile(0.975, 2) == pytest.approx(4.3026527, rel=1e-6)
    assert t_quantile(0.975, 3) == pytest.approx(3.1824463, rel=1e-6)
    with pytest.raises(ValueError, match='dof must be >= 1, got 0'):
        t_quantile(0.975, 0)


def test_summary_uses_the_sample_standard_deviation():
    s = summarize([90.0, 91.0, 92.0])
    assert (s.n, s.mean) == (3, 91.0)
    assert s.std == pytest.approx(1.0)  # sqrt((1 + 0 + 1) / 2)
    one = summarize([90.0])
    assert one.mean == 90.0 and math.isnan(one.std)


def test_paired_interval_by_hand_within_noise():
    model = {0: 91.0, 1: 92.0, 2: 93.5}
    base = {0: 90.0, 1: 91.5, 2: 92.0}
    # Differences 1.0, 0.5, 1.5: mean 1.0, sd 0.5, standard error 0.5 / sqrt(3);
    # half width 4.3026527 * 0.2886751 = 1.2420688.
    d = paired_difference(model, base)
    assert d.n == 3
    assert d.mean == pytest.approx(1.0)
    assert d.low == pytest.approx(1.0 - 1.2420688, abs=1e-6)
    assert d.high == pytest.approx(1.0 + 1.2420688, abs=1e-6)
    assert verdict(d) == 'within noise'


def test_paired_interval_by_hand_better_and_worse():
    base = {0: 90.0, 1: 90.0, 2: 90.0, 3: 90.0}
    model = {0: 91.0, 1: 92.0, 2: 91.0, 3: 92.0}
    # Differences 1, 2, 1, 2: mean 1.5, sd sqrt(1/3), half width 3.1824463 * sqrt(1/3) / 2 = 0.9186931.
    d = paired_difference(model, base)
    assert (d.low, d.high) == (pytest.approx(1.5 - 0.9186931, abs=1e-6), pytest.approx(1.5 + 0.9186931, abs=1e-6))
    assert verdict(d) == 'better'
    assert verdict(paired_difference(base, model)) == 'worse'


def test_pairing_uses_shared_seeds_only_and_one_seed_has_no_interval():
    d = paired_difference({0: 91.0, 5: 99.0}, {0: 90.0, 1: 80.0})
    assert d.n == 1 and d.mean == pytest.approx(1.0)
    assert math.isnan(d.low) and math.isnan(d.high)
    assert verdict(d) == '-'
    assert paired_difference({}, {0: 1.0}).n == 0


def test_pairing_differs_from_unpaired_spread():
    # A seed that is hard for both models: the unpaired spread is large, the paired one small.
    base = {0: 85.0, 1: 90.0, 2: 95.0}
    model = {0: 85.5, 1: 90.6, 2: 95.4}
    assert summarize(list(base.values())).std == pytest.approx(5.0)
    assert verdict(paired_difference(model, base)) == 'better'


def test_bad_level():
    with pytest.raises(ValueError, match=r'level must be in \(0, 1\), got 95'):
        paired_difference({0: 1.0}, {0: 1.0}, level=95)
