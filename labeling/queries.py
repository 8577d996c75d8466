"""Reads of the labeling app reused by pages, the API and the analytics."""

from collections import defaultdict

from django.db.models import Count, Exists, OuterRef

from accounts.roles import Role, has_role
from incidents.models import Incident
from labeling import embeddings
from labeling.choices import AnnotationSource
from labeling.models import Annotation, Decision, Dimension, Embedding, Option, Taxonomy


def list_active_taxonomies():
    return list(Taxonomy.objects.filter(active=True).prefetch_related("dimensions"))


def list_labels_of(incident, viewer):
    """Per active dimension: the decided options and the annotations this viewer may see.

    Returns [{"taxonomy", "dimension", "decisions", "annotations", "history"}] in taxonomy
    and dimension order, for the incident page's labels panel. Blind labeling: until a
    dimension is decided or has two annotators, an analyst sees only their own annotations.
    """
    dimensions = Dimension.objects.filter(taxonomy__active=True).select_related("taxonomy")
    decided = list(incident.decisions.select_related("option__parent", "decided_by"))
    load_ancestors([decision.option for decision in decided])  # the panel colours labels by top level
    decisions = defaultdict(list)
    for decision in decided:
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


def load_ancestors(options):
    """Attach every ancestor of these options, so `Option.top_level` runs no query of its own.

    Callers select each option's parent, which covers two-level taxonomies at no cost; an
    option deeper than that gets its chain from one query of its dimension's options.
    """
    deeper = [option for option in options if _last_loaded(option).parent_id is not None]
    if not deeper:
        return
    by_id = Option.objects.filter(dimension_id__in={option.dimension_id for option in deeper}).in_bulk()
    for option in [*by_id.values(), *deeper]:
        end = _last_loaded(option)
        if end.parent_id in by_id:
            Option.parent.field.set_cached_value(end, by_id[end.parent_id])


def _last_loaded(option):
    """The option's furthest ancestor already in memory (itself when its parent is not)."""
    while option.parent_id is not None and Option.parent.is_cached(option):
        option = option.parent
    return option


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


def _current_embedding():
    """The incident's vector for the current model, if it is of the incident's current text.

    labeling.actions.vectors stamps a vector's `updated_at` with the incident's `updated_at`
    read with the text it embeds, and stores it only if the incident is still at that
    version, so comparing the two timestamps (no text, no hash) tells a current vector.
    """
    return Embedding.objects.filter(
        incident_id=OuterRef("pk"), model_name=embeddings.model_name(), updated_at__gte=OuterRef("updated_at")
    )


def incidents_with_stale_embeddings():
    """Incidents with no vector for the current model, or changed since their vector's text was read."""
    return Incident.objects.filter(~Exists(_current_embedding()))


def stale_embedding_incident_ids(limit):
    return list(incidents_with_stale_embeddings().order_by("-updated_at").values_list("pk", flat=True)[:limit])


def current_embedding_incident_ids(incident_ids):
    """Those of these incidents whose vector is of their current text, for the suggestions the embed task queues."""
    current = Incident.objects.filter(Exists(_current_embedding()), pk__in=list(incident_ids))
    return list(current.order_by("pk").values_list("pk", flat=True))


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
