"""Reads of the labeling app reused by pages, the API and the analytics."""

from collections import defaultdict

from django.db.models import Count, Exists, OuterRef

from accounts.roles import Role, has_role
from incidents.models import Incident
from labeling import embeddings
from labeling.choices import AnnotationSource
from labeling.models import Annotation, Decision, Dimension, Embedding, Taxonomy


def list_active_taxonomies():
    return list(Taxonomy.objects.filter(active=True).prefetch_related("dimensions"))


def list_labels_of(incident, viewer):
    """Per active dimension: the decided options and the annotations this viewer may see.

    Returns [{"taxonomy", "dimension", "decisions", "annotations", "history"}] in taxonomy
    and dimension order, for the incident page's labels panel. Blind labeling: until a
    dimension is decided or has two annotators, an analyst sees only their own annotations.
    """
    dimensions = Dimension.objects.filter(taxonomy__active=True).select_related("taxonomy")
    decisions = defaultdict(list)
    for decision in incident.decisions.select_related("option__parent", "decided_by"):
        decisions[decision.dimension_id].append(decision)
    history = defaultdict(list)
    for annotation in list_annotation_history(incident):
        history[annotation.dimension_id].append(annotation)
    rows = []
    for dimension in dimensions:
        visible = [
            a for a in history[dimension.pk] if _may_see(viewer, a, history[dimension.pk], decisions[dimension.pk])
        ]
        rows.append(
            {
                "taxonomy": dimension.taxonomy,
                "dimension": dimension,
                "decisions": decisions[dimension.pk],
                "annotations": [annotation for annotation in visible if annotation.is_current],
                "history": visible,
            }
        )
    return rows


def _may_see(viewer, annotation, annotations, decisions):
    if decisions or annotation.annotator_id == viewer.pk or has_role(viewer, Role.ADMIN):
        return True
    annotators = {
        other.annotator_id
        for other in annotations
        if other.is_current and not other.is_adjudication and other.source != AnnotationSource.MODEL
    }
    return len(annotators) >= 2


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
    """Every annotation of the incident, old and current, newest first, for its history panel."""
    return (
        Annotation.objects.filter(incident=incident)
        .select_related("annotator", "replaces")
        .prefetch_related("options__parent", "replaces__options")
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


def taxonomy_as_data(taxonomy):
    """The taxonomy in the import_taxonomy file format (PRODUCT.md §4), for export."""

    def option_data(option, children_of):
        data = {"key": option.key, "name": option.name, "description": option.description}
        children = children_of.get(option.pk, [])
        if children:
            data["children"] = [option_data(child, children_of) for child in children]
        return data

    dimensions = []
    for dimension in taxonomy.dimensions.prefetch_related("options"):
        children_of = defaultdict(list)
        for option in dimension.options.all():
            children_of[option.parent_id].append(option)
        dimensions.append(
            {
                "key": dimension.key,
                "name": dimension.name,
                "description": dimension.description,
                "multi": dimension.multi,
                "options": [option_data(option, children_of) for option in children_of[None]],
            }
        )
    return {"key": taxonomy.key, "name": taxonomy.name, "description": taxonomy.description, "dimensions": dimensions}


def count_labels_per_option(taxonomy):
    """{option_id: decided incidents} for the taxonomy page, so an admin sees what a change touches."""
    rows = Decision.objects.filter(dimension__taxonomy=taxonomy).values("option_id").annotate(n=Count("incident_id"))
    return {row["option_id"]: row["n"] for row in rows}
