"""Labeling health: decided and undecided incidents, suggestion acceptance, agreement, throughput."""

from collections import defaultdict

from django.contrib.auth import get_user_model

from analytics.queries.scope import aggregate, count_incidents, month_span, months_between
from analytics.queries.trends import month_label
from analytics.stats import kappa_from_counts, rate


def decided_by_month(scope, layout):
    """Per month: incidents decided on every dimension, on some, and on none."""
    rows = count_incidents(scope, lambda n: f"f.month, f.decided_dimensions, {n()}", group_by="1, 2")
    dimensions = len(layout.dimensions)
    buckets = defaultdict(lambda: [0, 0, 0])
    for month, decided_dimensions, count in rows:
        index = 0 if dimensions and decided_dimensions >= dimensions else (1 if decided_dimensions else 2)
        buckets[month][index] += count
    months = month_span(scope)
    decided, partial, undecided = ([buckets[m][i] for m in months] for i in range(3))
    return {
        "months": [month_label(m) for m in months],
        "decided": decided,
        "partial": partial,
        "undecided": undecided,
        "totals": {"decided": sum(decided), "partial": sum(partial), "undecided": sum(undecided)},
    }


def suggestion_acceptance(scope, layout):
    """How often the first analyst's value contained the top suggestion, per dimension and per option.

    For a single-valued dimension that means the analyst chose exactly the top suggestion; for
    a multi-valued one, that the top suggestion is among the values chosen.
    """
    rows = aggregate(
        scope,
        "l.dimension_id, l.top_suggestion_id, l.top_accepted, count(*)",
        table="analytics_labelfact",
        alias="l",
        where="l.top_suggestion_id IS NOT NULL",
        group_by="1, 2, 3",
    )
    per_dimension, per_option = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for dimension_id, option_id, accepted, count in rows:
        for bucket in (per_dimension[dimension_id], per_option[option_id]):
            bucket[0] += count if accepted else 0
            bucket[1] += count
    dimensions = [
        _acceptance_row(dimension.key, dimension.name, dimension.name, per_dimension.get(dimension.id))
        for dimension in layout.dimensions.values()
    ]
    options = [
        {
            **_acceptance_row(option.key, option.name, dimension.name, per_option.get(option.id)),
            **_color_hint(layout, dimension, option),
        }
        for dimension in layout.dimensions.values()
        for option in dimension.options
        if option.id in per_option
    ]
    return {"dimensions": dimensions, "options": options}


def _color_hint(layout, dimension, option):
    """The option's top-level option and its place among its siblings: charts shade subcategories by it."""
    top = layout.top_of(option.id)
    siblings = [child.id for child in dimension.children(top.id)]
    return {"parent": top.key, "shade": siblings.index(option.id) if option.id in siblings else 0}


def _acceptance_row(key, name, dimension_name, counts):
    accepted, trials = counts or (0, 0)
    return {
        "key": key,
        "name": name,
        "dimension": dimension_name,
        "accepted": accepted,
        "trials": trials,
        "rate": rate(accepted, trials),
    }


def agreement_by_month(scope, layout):
    """Cohen's kappa of the first two analysts per single-valued dimension, per month and overall."""
    rows = aggregate(
        scope,
        "l.dimension_id, l.month, l.first_option_id, l.second_option_id, count(*)",
        table="analytics_labelfact",
        alias="l",
        where="l.second_option_id IS NOT NULL",
        group_by="1, 2, 3, 4",
    )
    pairs = defaultdict(lambda: defaultdict(int))
    for dimension_id, month, first, second, count in rows:
        pairs[dimension_id, month][first, second] += count
    months = month_span(scope)
    series = []
    for dimension in layout.dimensions.values():
        if dimension.multi:
            continue
        monthly = [pairs.get((dimension.id, month), {}) for month in months]
        overall = defaultdict(int)
        for counts in (counts for (dim, _), counts in pairs.items() if dim == dimension.id):
            for pair, count in counts.items():
                overall[pair] += count
        series.append(
            {
                "key": dimension.key,
                "name": dimension.name,
                "kappa": [kappa_from_counts(counts) for counts in monthly],
                "pairs": [sum(counts.values()) for counts in monthly],
                "kappa_total": kappa_from_counts(overall),
                "pairs_total": sum(overall.values()),
            }
        )
    return {"months": [month_label(m) for m in months], "series": series}


def kappa_total(scope, layout, dimension_key):
    """(kappa, pairs) of one single-valued dimension over the whole scope: the study table's figure."""
    dimension = layout.dimension(dimension_key)
    if not dimension.id or dimension.multi:
        return None, 0
    rows = aggregate(
        scope,
        "l.first_option_id, l.second_option_id, count(*)",
        table="analytics_labelfact",
        alias="l",
        where="l.second_option_id IS NOT NULL AND l.dimension_id = %(dimension)s",
        group_by="1, 2",
        params={"dimension": dimension.id},
    )
    counts = {(first, second): count for first, second, count in rows}
    return kappa_from_counts(counts), sum(counts.values())


def throughput(scope):
    """Incidents each analyst labeled per month (the month of their first label on the incident).

    People-level figures: only the roles of analytics.dashboards.PEOPLE_ROLES see them.
    """
    rows = aggregate(
        scope, "l.annotator_id, l.labeled_month, count(*)", table="analytics_labelerfact", alias="l", group_by="1, 2"
    )
    counts = defaultdict(dict)
    for annotator_id, month, count in rows:
        counts[annotator_id][month] = count
    labeled = sorted({month for per_month in counts.values() for month in per_month})
    months = _span_with(month_span(scope), labeled)
    names = dict(get_user_model().objects.filter(pk__in=counts).values_list("pk", "username"))
    series = []
    for annotator_id, per_month in counts.items():
        name = names.get(annotator_id, f"user {annotator_id}")
        counts_by_month = [per_month.get(month, 0) for month in months]
        series.append({"key": name, "name": name, "counts": counts_by_month, "total": sum(per_month.values())})
    series.sort(key=lambda item: (-item["total"], item["name"]))
    return {"months": [month_label(m) for m in months], "series": series}


def _span_with(months, extra):
    """The scope's months extended to the months labels were made in (labeling runs behind)."""
    if not extra:
        return months
    first = min([*months[:1], extra[0]])
    last = max([*months[-1:], extra[-1]])
    return list(months_between(first, last))
