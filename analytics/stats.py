"""Pure statistics behind the charts: rates, percentiles from binned durations, kappa from counts.

No database and no plotly: analytics.queries feeds these plain numbers, analytics.charts draws them.
"""

import math

from labeling.agreement import cohen_kappa

# Durations are grouped in bins 1/50 of a natural-log unit wide (2%): bin = floor(ln(s) * 50).
# The SQL of analytics.actions computes the same; a box plot then reads a few hundred
# (bin, count, sum of seconds) rows instead of sorting a million values.
DURATION_BINS_PER_E = 50
BOX_QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)


def duration_bin(seconds):
    return math.floor(math.log(max(seconds, 1)) * DURATION_BINS_PER_E)


def rate(part, whole):
    """part / whole, or None when nothing was counted (a chart shows a gap, not a zero)."""
    return part / whole if whole else None


def quantiles(bins, probabilities=BOX_QUANTILES):
    """Percentiles (linear interpolation, as PostgreSQL's percentile_cont) of binned values.

    `bins` are (count, sum) pairs; each bin stands for `count` values equal to its mean, so
    the result is exact when a bin's values are equal (whole minutes in tests, say) and
    within the bin's 2% width otherwise. Returns None for each probability without values.
    """
    points = sorted((total / count, count) for count, total in bins if count)
    n = sum(count for _, count in points)
    if not n:
        return [None] * len(probabilities)
    return [_value_at_rank(points, p * (n - 1)) for p in probabilities]


def _value_at_rank(points, rank):
    low_rank = math.floor(rank)
    low = _value_at_index(points, low_rank)
    high = _value_at_index(points, min(low_rank + 1, sum(count for _, count in points) - 1))
    return low + (high - low) * (rank - low_rank)


def _value_at_index(points, index):
    seen = 0
    for value, count in points:
        seen += count
        if index < seen:
            return value
    return points[-1][0]


def box(bins):
    """Box-plot numbers of binned durations: p10, p25, median, p75, p90 and n (None when empty)."""
    n = sum(count for count, _ in bins)
    if not n:
        return None
    p10, p25, p50, p75, p90 = quantiles(bins)
    return {"p10": p10, "p25": p25, "p50": p50, "p75": p75, "p90": p90, "n": n}


def kappa_from_counts(pair_counts):
    """Cohen's kappa of (first, second) -> count, through labeling.agreement.cohen_kappa."""
    pairs = [pair for pair, count in pair_counts.items() for _ in range(count)]
    return cohen_kappa(pairs)
