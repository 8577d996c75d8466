"""Plain-data reads behind the dashboards, one module per subject; the public ones are listed here."""

from analytics.queries.labeling import agreement_by_month, decided_by_month, suggestion_acceptance, throughput
from analytics.queries.scope import Layout, Scope, load_layout, month_span
from analytics.queries.study import incidents_behind, study_comparison, summary
from analytics.queries.timing import duration_boxes, duration_trend, ttm_by_mitigation
from analytics.queries.trends import category_share, detection_share, mitigation_share

__all__ = [
    "Layout",
    "Scope",
    "agreement_by_month",
    "category_share",
    "decided_by_month",
    "detection_share",
    "duration_boxes",
    "duration_trend",
    "incidents_behind",
    "load_layout",
    "mitigation_share",
    "month_span",
    "study_comparison",
    "suggestion_acceptance",
    "summary",
    "throughput",
    "ttm_by_mitigation",
]
