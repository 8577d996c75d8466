"""Time to detect and time to mitigate: box-plot numbers by category, severity, mitigation and month.

The facts carry each duration's 2% bin (analytics.stats); these queries count incidents and
sum seconds per bin, and analytics.stats turns the bins into percentiles.
"""

from collections import defaultdict

from analytics import metrics
from analytics.queries.scope import aggregate, month_span
from analytics.queries.trends import month_label
from analytics.stats import box
from incidents.choices import Severity

METRICS = {"ttd": "Time to detect", "ttm": "Time to mitigate"}
# Each category option to its top-level option, so boxes group subcategories under their category.
_TOP_JOIN = (
    "LEFT JOIN unnest(%(leaves)s::bigint[], %(tops)s::bigint[]) AS m(leaf, top) ON m.leaf = f.category_option_id"
)


def _seconds_sum(metric, condition=None):
    """SQL summing a duration's seconds as a double precision number.

    The columns are bigint, whose sum is numeric (a Decimal, which analytics.stats cannot mix
    with floats); a double holds sums up to 2**53 exactly and never overflows.
    """
    summed = f"sum(f.{metric}_seconds)" + (f" FILTER (WHERE {condition})" if condition else "")
    return f"({summed})::float8"


def _check(metric):
    """Metric names go into the SQL as column prefixes: only the two known ones."""
    if metric not in METRICS:
        raise ValueError(f"unknown duration {metric!r}")


def _top_level_map(layout):
    """(leaf ids, top ids) aligned arrays: every category option and the top-level option above it."""
    dimension = layout.dimension(metrics.CATEGORY)
    pairs = [(option.id, layout.top_of(option.id).id) for option in dimension.options]
    return [leaf for leaf, _ in pairs], [top for _, top in pairs]


def duration_boxes(scope, layout, metric):
    """Box numbers of one duration by top-level category and by severity, from one scan."""
    _check(metric)
    leaves, tops = _top_level_map(layout)
    rows = aggregate(
        scope,
        f"m.top, f.severity, f.{metric}_bin, count(*), {_seconds_sum(metric)}",
        joins=_TOP_JOIN,
        where=f"f.{metric}_bin IS NOT NULL",
        group_by="1, 2, 3",
        params={"leaves": leaves, "tops": tops},
    )
    by_top, by_severity = defaultdict(list), defaultdict(list)
    for top, severity, _, count, total in rows:
        by_top[top].append((count, total))
        by_severity[severity].append((count, total))
    categories = [
        {"key": option.key, "name": option.name, "box": box(by_top.get(option.id, []))}
        for option in layout.dimension(metrics.CATEGORY).top_level
    ]
    severities = [
        {"key": f"sev{value}", "name": label.split(" ")[0], "box": box(by_severity.get(value, []))}
        for value, label in Severity.choices
    ]
    return {"metric": metric, "label": METRICS.get(metric, metric), "categories": categories, "severities": severities}


def duration_trend(scope, metric):
    """p50 and p90 of one duration per month (empty months included), with n."""
    _check(metric)
    rows = aggregate(
        scope,
        f"f.month, f.{metric}_bin, count(*), {_seconds_sum(metric)}",
        where=f"f.{metric}_bin IS NOT NULL",
        group_by="1, 2",
    )
    bins = defaultdict(list)
    for month, _, count, total in rows:
        bins[month].append((count, total))
    months = month_span(scope)
    boxes = [box(bins.get(month, [])) for month in months]
    return {
        "metric": metric,
        "label": METRICS.get(metric, metric),
        "months": [month_label(month) for month in months],
        "p50": [item["p50"] if item else None for item in boxes],
        "p90": [item["p90"] if item else None for item in boxes],
        "n": [item["n"] if item else 0 for item in boxes],
    }


def ttm_by_mitigation(scope, layout):
    """Box numbers of time to mitigate per mitigation type (an incident counts under each of its types)."""
    dimension = layout.dimension(metrics.MITIGATION)
    options = dimension.options
    columns, params = ["f.ttm_bin"], {}
    for index, option in enumerate(options):
        params[f"b{index}"] = dimension.bit(option)
        match = f"f.mitigation_mask & %(b{index})s <> 0"
        columns.append(f"count(*) FILTER (WHERE {match}), {_seconds_sum('ttm', match)}")
    where = "f.ttm_bin IS NOT NULL AND f.mitigation_mask <> 0"
    rows = aggregate(scope, ", ".join(columns), where=where, group_by="1", params=params) if options else []
    result = []
    for index, option in enumerate(options):
        bins = [(row[1 + 2 * index], row[2 + 2 * index] or 0) for row in rows]
        result.append({"key": option.key, "name": option.name, "box": box(bins)})
    return {"metric": "ttm", "label": METRICS["ttm"], "groups": result}
