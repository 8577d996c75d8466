"""Monthly counts of decided options: category share, detection, mitigation, hotfix and automation.

Every function reads analytics_incidentfact (one narrow row per incident and taxonomy) and
returns plain data: month labels and, per series, counts and shares over the decided
incidents of the month. Undecided incidents are counted apart and never in a share.
"""

from analytics import metrics
from analytics.queries.scope import count_incidents, month_span
from analytics.stats import rate

# A subcategory drill-down's "(no subcategory)" series counts the decisions on the parent
# itself. Its key is the parent's behind this prefix, which no option key can start with
# (labeling.taxonomy_file.is_key), so a click on its bar can ask incidents_behind for
# exactly those decisions instead of the parent and every subcategory under it.
NO_SUBCATEGORY_PREFIX = "_"


def no_subcategory_key(parent_key):
    return f"{NO_SUBCATEGORY_PREFIX}{parent_key}"


def no_subcategory_parent(key):
    """The parent key a "(no subcategory)" series key stands for, or None for any other key."""
    return key.removeprefix(NO_SUBCATEGORY_PREFIX) if key.startswith(NO_SUBCATEGORY_PREFIX) else None


def no_subcategory_name(parent):
    return f"{parent.name} (no subcategory)"


def drilled(dimension, key):
    """(name, option ids) of the bar a series key stands for; (None, []) for an unknown key.

    The option and its subcategories, but for a "(no subcategory)" bar only its parent: that
    bar counts the decisions on the parent itself.
    """
    parent_key = no_subcategory_parent(key)
    if parent_key is not None:
        parent = dimension.option(parent_key)
        return (no_subcategory_name(parent), [parent.id]) if parent else (None, [])
    option = dimension.option(key)
    return (option.name, dimension.subtree_ids(option)) if option else (None, [])


def month_label(month):
    return month.strftime("%Y-%m")


def single_valued_counts(scope, column):
    """{month: {option id or None: incidents}} of a single-valued option column of the facts."""
    rows = count_incidents(scope, lambda n: f"f.month, f.{column}, {n()}", group_by="1, 2")
    counts = {}
    for month, option_id, incidents in rows:
        counts.setdefault(month, {})[option_id] = incidents
    return counts


def _series(months, by_month, members, denominators):
    """One series per (key, name, option ids): counts per month and shares of the denominators."""
    series = []
    for key, name, option_ids in members:
        counts = [sum(by_month.get(month, {}).get(option_id, 0) for option_id in option_ids) for month in months]
        shares = [rate(count, whole) for count, whole in zip(counts, denominators, strict=True)]
        series.append({"key": key, "name": name, "counts": counts, "shares": shares, "total": sum(counts)})
    return series


def _frame(months, series, decided, undecided):
    return {
        "months": [month_label(month) for month in months],
        "month_starts": [month.isoformat() for month in months],
        "series": series,
        "decided": decided,
        "undecided": undecided,
        "decided_total": sum(decided),
        "undecided_total": sum(undecided),
    }


def category_share(scope, layout, parent_key=None, first_key=None):
    """Category share per month: top-level categories, or the subcategories of `parent_key`.

    Shares are of the incidents decided on category that month (of those in the parent for a
    drill-down). Decisions on the parent itself, without a subcategory, form their own series.
    """
    dimension = layout.dimension(metrics.CATEGORY)
    months = month_span(scope)
    by_month = single_valued_counts(scope, "category_option_id") if dimension.options else {}
    parent = dimension.option(parent_key) if parent_key else None
    if parent is None:
        members = [(top.key, top.name, dimension.subtree_ids(top)) for top in dimension.top_level]
    else:
        members = [(child.key, child.name, dimension.subtree_ids(child)) for child in dimension.children(parent.id)]
        members.append((no_subcategory_key(parent.key), no_subcategory_name(parent), [parent.id]))
        members.sort(key=lambda member: member[0] != first_key)
    pool = {option_id for _, _, option_ids in members for option_id in option_ids}
    decided = [sum(n for option_id, n in by_month.get(m, {}).items() if option_id in pool) for m in months]
    undecided = [by_month.get(m, {}).get(None, 0) for m in months]
    series = _series(months, by_month, members, decided)
    if parent is not None:
        series = [item for item in series if item["total"] or item["key"] != no_subcategory_key(parent.key)]
    frame = _frame(months, series, decided, undecided)
    frame["parent"] = {"key": parent.key, "name": parent.name} if parent else None
    frame["dimension"] = metrics.CATEGORY
    return frame


def detection_share(scope, layout):
    """Detection source per month, with the auto-detection rate (PRODUCT.md §3) as its own list."""
    dimension = layout.dimension(metrics.DETECTION)
    months = month_span(scope)
    by_month = single_valued_counts(scope, "detection_option_id") if dimension.options else {}
    members = [(option.key, option.name, [option.id]) for option in dimension.options]
    decided = [sum(n for option_id, n in by_month.get(m, {}).items() if option_id is not None) for m in months]
    undecided = [by_month.get(m, {}).get(None, 0) for m in months]
    frame = _frame(months, _series(months, by_month, members, decided), decided, undecided)
    automated = next((item for item in frame["series"] if item["key"] == metrics.AUTOMATED), None)
    frame["rate"] = automated["shares"] if automated else [None] * len(months)
    frame["rate_total"] = rate(automated["total"], frame["decided_total"]) if automated else None
    frame["dimension"] = metrics.DETECTION
    return frame


def mitigation_share(scope, layout):
    """Mitigations per month (an incident with two counts in both), hotfix rate, automation share."""
    dimension = layout.dimension(metrics.MITIGATION)
    months = month_span(scope)
    options = list(dimension.options)
    operational = dimension.mask(option for option in options if option.key in metrics.OPERATIONAL_MITIGATIONS)
    rows = _mitigation_rows(scope, dimension, operational)
    by_month = {row[0]: row for row in rows}
    empty = (None, 0, 0, 0, *([0] * len(options)))
    decided = [by_month.get(m, empty)[2] for m in months]
    undecided = [by_month.get(m, empty)[1] - by_month.get(m, empty)[2] for m in months]
    counts = {m: dict(zip([o.id for o in options], by_month.get(m, empty)[4:], strict=True)) for m in months}
    members = [(option.key, option.name, [option.id]) for option in options]
    frame = _frame(months, _series(months, counts, members, decided), decided, undecided)
    hotfix = next((item for item in frame["series"] if item["key"] == metrics.HOTFIX), None)
    frame["hotfix_rate"] = hotfix["shares"] if hotfix else [None] * len(months)
    frame["hotfix_total"] = rate(hotfix["total"], frame["decided_total"]) if hotfix else None
    automatable = [by_month.get(m, empty)[3] for m in months]
    frame["automation_counts"] = automatable
    frame["automation_rate"] = [rate(n, whole) for n, whole in zip(automatable, decided, strict=True)]
    frame["automation_total"] = rate(sum(automatable), frame["decided_total"])
    frame["automation_keys"] = [o.key for o in options if dimension.bit(o) & operational]
    frame["dimension"] = metrics.MITIGATION
    return frame


def _mitigation_rows(scope, dimension, operational):
    """(month, incidents, decided, automatable, per-option counts...) per month, in one scan.

    One FILTER aggregate per option on the mask's bit: a fraction of the time of unnesting
    or searching arrays at a million incidents (bench/bench_dashboards.py).
    """
    params = {f"b{index}": dimension.bit(option) for index, option in enumerate(dimension.options)}

    def select(n):
        columns = ["f.month", n(), n("f.mitigation_mask <> 0"), n("f.mitigation_mask & %(operational)s <> 0")]
        columns += [n(f"f.mitigation_mask & %(b{index})s <> 0") for index in range(len(dimension.options))]
        return ", ".join(columns)

    return count_incidents(scope, select, group_by="1", params={**params, "operational": operational})
