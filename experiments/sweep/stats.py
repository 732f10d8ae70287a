"""Seed statistics without scipy: mean ± std, Student's t quantile and Welch's t-interval."""

from __future__ import annotations

import math
import statistics


def mean_std(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (``None`` where undefined).

    Args:
        values: The observations, e.g. one metric over a setting's seeds.

    Returns:
        ``(mean, std)``; the mean is ``None`` without values, the std with fewer than two.
    """
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0 or x >= 1.0:
        return max(0.0, min(1.0, x))
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t with real ``df`` (scipy is not a dependency): bisection on the CDF.

    Args:
        p: Probability, strictly between 0 and 1.
        df: Degrees of freedom, positive (need not be an integer).

    Returns:
        The ``t`` with ``P(T <= t) = p``.

    Raises:
        ValueError: If ``p`` or ``df`` is out of range.
    """
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while 1.0 - 0.5 * _betainc(df / 2, 0.5, df / (df + hi * hi)) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 1.0 - 0.5 * _betainc(df / 2, 0.5, df / (df + mid * mid)) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def welch_ci(a: list[float], b: list[float], level: float = 0.95) -> tuple[float, float, float] | None:
    """Welch t-interval of mean(a) − mean(b): (low, high, df), or ``None`` with fewer than 2 each.

    Args:
        a: Observations of one setting.
        b: Observations of the setting compared against (the base).
        level: Two-sided confidence level.

    Returns:
        ``(low, high, df)``, a zero-width interval with ``df = inf`` when both variances are 0,
        or ``None`` when either side has fewer than two observations.
    """
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = _var(a) / len(a), _var(b) / len(b)
    diff = sum(a) / len(a) - sum(b) / len(b)
    if va + vb == 0:
        return diff, diff, math.inf
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = t_quantile(1 - (1 - level) / 2, df) * math.sqrt(va + vb)
    return diff - half, diff + half, df


def _var(x: list[float]) -> float:
    """Sample variance (``n - 1`` in the denominator)."""
    m = sum(x) / len(x)
    return sum((v - m) ** 2 for v in x) / (len(x) - 1)
