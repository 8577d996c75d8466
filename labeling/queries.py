"""Reads of the labeling app reused by pages, the API and the analytics."""

from collections import defaultdict

from django.db.models import Count, Exists, OuterRef, Prefetch

from incidents.filters import IncidentFilterSet
from incidents.models import Incident
from incidents.queries import incidents_visible_to
from labeling.models import Annotation, Decision, Dimension, Taxonomy


def list_active_taxonomies():
    return list(Taxonomy.objects.filter(active=True).prefetch_related("dimensions"))


def list_labels_of(incident):
    """Per active dimension: the decided options and each annotator's current value.

    Returns [{"taxonomy", "dimension", "decisions": [Decision], "annotations": [Annotation]}],
    in taxonomy and dimension order, for the incident page's labels panel.
    """
    dimensions = Dimension.objects.filter(taxonomy__active=True).select_related("taxonomy")
    decisions = defaultdict(list)
    for decision in incident.decisions.select_related("option__parent", "decided_by"):
        decisions[decision.dimension_id].append(decision)
    annotations = defaultdict(list)
    current = (
        incident.annotations.filter(is_current=True)
        .select_related("annotator")
        .prefetch_related(Prefetch("options"))
        .order_by("created_at")
    )
    for annotation in current:
        annotations[annotation.dimension_id].append(annotation)
    return [
        {
            "taxonomy": dimension.taxonomy,
            "dimension": dimension,
            "decisions": decisions[dimension.pk],
            "annotations": annotations[dimension.pk],
        }
        for dimension in dimensions
    ]


def count_decided_incidents(taxonomy):
    """(decided, total) incidents, where decided means a decision on every dimension."""
    dimension_ids = list(taxonomy.dimensions.values_list("pk", flat=True))
    total = Incident.objects.count()
    if not dimension_ids:
        return 0, total
    decided = (
        Decision.objects.filter(dimension_id__in=dimension_ids)
        .values("incident_id")
        .annotate(dimensions=Count("dimension_id", distinct=True))
        .filter(dimensions=len(dimension_ids))
        .count()
    )
    return decided, total


def undecided_incidents(dimension):
    """Incidents with no decision on `dimension`, newest first."""
    decided = Decision.objects.filter(dimension=dimension, incident_id=OuterRef("pk"))
    return Incident.objects.filter(~Exists(decided))


def list_annotation_history(incident):
    """Every annotation of the incident, old and current, for its history panel."""
    return (
        Annotation.objects.filter(incident=incident)
        .select_related("dimension", "annotator")
        .prefetch_related("options")
        .order_by("-created_at")
    )


def search_similar_by_text(user, text, limit):
    """Past incidents matching `text` by full-text rank, with their decisions attached.

    Ranked on the incident search document (words of the symptom in title, postmortem
    and timeline); each result carries its decisions so the page shows what mitigated it.
    """
    words = " OR ".join(text.split()[:40])
    filterset = IncidentFilterSet({"q": words}, queryset=incidents_visible_to(user).with_durations())
    incidents = list(filterset.qs[:limit])
    decisions = defaultdict(list)
    for decision in Decision.objects.filter(incident__in=incidents).select_related("dimension", "option__parent"):
        decisions[decision.incident_id].append(decision)
    return [{"incident": incident, "decisions": decisions[incident.pk]} for incident in incidents]
