"""Plain-data reads behind the dashboards."""

from django.db.models import Count, F
from django.db.models.functions import Coalesce

from labeling.models import Decision, Dimension

# PRODUCT.md §3: shares of the study's 156 incidents, to show beside a team's own.
STUDY_CATEGORY_SHARE = {
    "inference_engine": (0.60, "abstract"),
    "infrastructure": (0.20, "secondary summary"),
    "model_configuration": (0.16, "secondary summary"),
    "operational": (0.04, "secondary summary"),
}


def category_share(taxonomy_key=None):
    """Decided incidents per top-level category of the active taxonomy, with their share."""
    dimensions = Dimension.objects.filter(taxonomy__active=True, key="category")
    if taxonomy_key:
        dimensions = dimensions.filter(taxonomy__key=taxonomy_key)
    dimension = dimensions.select_related("taxonomy").first()
    if dimension is None:
        return {"taxonomy": None, "rows": [], "total": 0}
    counts = (
        Decision.objects.filter(dimension=dimension)
        .annotate(top_key=Coalesce(F("option__parent__key"), F("option__key")))
        .values("top_key")
        .annotate(incidents=Count("incident_id", distinct=True))
    )
    by_key = {row["top_key"]: row["incidents"] for row in counts}
    total = sum(by_key.values())
    rows = []
    for option in dimension.options.filter(parent__isnull=True):
        incidents = by_key.get(option.key, 0)
        reference = STUDY_CATEGORY_SHARE.get(option.key)
        rows.append(
            {
                "option": option,
                "incidents": incidents,
                "share": incidents / total if total else None,
                "study_share": reference[0] if reference else None,
                "study_source": reference[1] if reference else "",
            }
        )
    return {"taxonomy": dimension.taxonomy, "rows": rows, "total": total}
