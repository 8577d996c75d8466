"""Reads of the labeling app reused by pages, the API and the analytics."""

from collections import defaultdict

from django.db.models import Count, Exists, OuterRef, Prefetch

from incidents.models import Incident
from labeling import embeddings
from labeling.models import Annotation, Decision, Dimension, Embedding, Taxonomy


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


def incidents_with_stale_embeddings():
    """Incidents with no vector for the current model, or changed since their vector was made."""
    fresh = Embedding.objects.filter(
        incident_id=OuterRef("pk"), model_name=embeddings.model_name(), updated_at__gte=OuterRef("updated_at")
    )
    return Incident.objects.filter(~Exists(fresh))


def stale_embedding_incident_ids(limit):
    return list(incidents_with_stale_embeddings().order_by("-updated_at").values_list("pk", flat=True)[:limit])


def list_embedding_workers(timeout=1.0):
    """[{"worker", "device", "model"}] from every live worker, asked over the broker."""
    from config.celery import app

    try:
        replies = app.control.inspect(timeout=timeout)._request("embedding_device") or {}
    except Exception:  # an unreachable broker means no worker answers: the page says so
        return []
    return [{"worker": name, **reply} for name, reply in sorted(replies.items()) if isinstance(reply, dict)]
