"""The team's figures beside the study's (PRODUCT.md §3), the API summary, and the incidents behind a bar."""

from datetime import date

from django.db.models import F

from analytics import metrics
from analytics.models import IncidentFact
from analytics.queries.labeling import kappa_total
from analytics.queries.scope import count_incidents
from analytics.queries.trends import category_share, detection_share, drilled, mitigation_share
from analytics.stats import rate
from incidents.models import Incident


def study_comparison(scope, layout):
    """One row per reference figure: the team's value over the scope, its n, the study's, the source."""
    totals = _period_totals(scope, layout)
    team = {
        **{key: (rate(count, totals["category"]), totals["category"]) for key, count in totals["tops"].items()},
        "timeout_in_engine": (rate(totals["timeout"], totals["engine"]), totals["engine"]),
        "auto_detected": (rate(totals["automated"], totals["detection"]), totals["detection"]),
        "hotfix": (rate(totals["hotfix"], totals["mitigation"]), totals["mitigation"]),
        "kappa": kappa_total(scope, layout, metrics.CATEGORY),
        "incidents": (totals["category"], totals["incidents"]),
    }
    rows = [
        {
            "key": ref.key,
            "label": ref.label,
            "kind": ref.kind,
            "team": team.get(ref.key, (None, 0))[0],
            "n": team.get(ref.key, (None, 0))[1],
            "study": ref.value,
            "source": ref.source,
        }
        for ref in metrics.STUDY_REFERENCES
    ]
    return {
        "rows": rows,
        "undecided": totals["incidents"] - totals["category"],
        "paper": metrics.PAPER,
        "sample": metrics.STUDY_SAMPLE,
    }


def _period_totals(scope, layout):
    """Counts over the whole scope in one scan: decided per dimension, per top category, and the rates' parts."""
    category = layout.dimension(metrics.CATEGORY)
    engine = category.option(metrics.INFERENCE_ENGINE)
    timeout = category.option(metrics.TIMEOUT)
    automated = layout.dimension(metrics.DETECTION).option(metrics.AUTOMATED)
    mitigation = layout.dimension(metrics.MITIGATION)
    hotfix = mitigation.option(metrics.HOTFIX)
    params = {
        "automated": automated.id if automated else None,
        "hotfix": mitigation.bit(hotfix) if hotfix else 0,
        "engine": category.subtree_ids(engine),
        "timeout": category.subtree_ids(timeout),
    }
    for index, top in enumerate(category.top_level):
        params[f"top{index}"] = category.subtree_ids(top)

    def select(n):
        columns = [
            n(),
            n("f.category_option_id IS NOT NULL"),
            n("f.detection_option_id IS NOT NULL"),
            n("f.mitigation_mask <> 0"),
            n("f.detection_option_id = %(automated)s"),
            n("f.mitigation_mask & %(hotfix)s <> 0"),
            n("f.category_option_id = ANY(%(engine)s)"),
            n("f.category_option_id = ANY(%(timeout)s)"),
        ]
        columns += [n(f"f.category_option_id = ANY(%(top{index})s)") for index in range(len(category.top_level))]
        return ", ".join(columns)

    (row,) = count_incidents(scope, select, params=params)
    names = ("incidents", "category", "detection", "mitigation", "automated", "hotfix", "engine", "timeout")
    totals = dict(zip(names, row[: len(names)], strict=True))
    totals["tops"] = {top.key: count for top, count in zip(category.top_level, row[len(names) :], strict=True)}
    return totals


def summary(scope, layout):
    """The counts behind every trend chart, per month and for the period (GET /api/analytics/summary/)."""
    category = category_share(scope, layout)
    detection = detection_share(scope, layout)
    mitigation = mitigation_share(scope, layout)
    months = []
    for index, label in enumerate(category["months"]):
        months.append(
            {
                "month": label,
                "incidents": category["decided"][index] + category["undecided"][index],
                "decided": category["decided"][index],
                "undecided": category["undecided"][index],
                "category": {item["key"]: item["counts"][index] for item in category["series"]},
                "category_share": {item["key"]: item["shares"][index] for item in category["series"]},
                "detection_decided": detection["decided"][index],
                "detection": {item["key"]: item["counts"][index] for item in detection["series"]},
                "auto_detection_rate": detection["rate"][index],
                "mitigation_decided": mitigation["decided"][index],
                "mitigation": {item["key"]: item["counts"][index] for item in mitigation["series"]},
                "hotfix_rate": mitigation["hotfix_rate"][index],
                "automation_rate": mitigation["automation_rate"][index],
            }
        )
    totals = {
        "incidents": category["decided_total"] + category["undecided_total"],
        "decided": category["decided_total"],
        "category": {item["key"]: item["total"] for item in category["series"]},
        "auto_detection_rate": detection["rate_total"],
        "hotfix_rate": mitigation["hotfix_total"],
        "automation_rate": mitigation["automation_total"],
        "mitigation": {item["key"]: item["total"] for item in mitigation["series"]},
    }
    return {"months": months, "totals": totals}


def incidents_behind(scope, layout, month=None, dimension_key=None, option_key=None):
    """The incidents a bar counts: the scope, optionally one month and one option (with its subcategories).

    A "(no subcategory)" bar's key selects only the decisions on its parent option itself.

    Returns an Incident queryset, newest first; an unknown option selects nothing.
    """
    facts = _filtered(IncidentFact.objects.filter(taxonomy_id=scope.taxonomy_id), scope)
    if month is not None:
        facts = facts.filter(month=date(month.year, month.month, 1))
    if dimension_key:
        facts = _with_option(facts, layout, dimension_key, option_key)
    return Incident.objects.filter(pk__in=facts.values("incident_id")).order_by("-started_at", "-id")


def _filtered(facts, scope):
    lookups = {
        "started_on__gte": scope.date_from,
        "started_on__lte": scope.date_to,
        "service_id": scope.service,
        "model_id": scope.model,
        "modality_id": scope.modality,
        "region_id": scope.region,
    }
    facts = facts.filter(**{name: value for name, value in lookups.items() if value})
    return facts.filter(severity__in=scope.severities) if scope.severities else facts


def _with_option(facts, layout, dimension_key, option_key):
    dimension = layout.dimension(dimension_key)
    _, ids = drilled(dimension, option_key or "")
    if not ids:
        return facts.none()
    if dimension_key == metrics.CATEGORY:
        return facts.filter(category_option_id__in=ids)
    if dimension_key == metrics.DETECTION:
        return facts.filter(detection_option_id__in=ids)
    if dimension_key == metrics.MITIGATION:
        bits = dimension.mask(layout.options[option_id] for option_id in ids)
        return facts.alias(matched=F("mitigation_mask").bitand(bits)).exclude(matched=0)
    return facts.none()
