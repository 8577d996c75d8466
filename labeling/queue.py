"""Reads for the labeling screen: each analyst's queue and the adjudication queue."""

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery

from accounts.roles import Role, has_role
from incidents.models import Incident
from labeling.models import Annotation, Decision, Suggestion


class QueueOrder:
    CONFIDENCE = "confidence"  # lowest top suggestion score first: what the model is least sure of
    OLDEST = "oldest"
    NEWEST = "newest"
    CHOICES = [(CONFIDENCE, "Least confident first"), (OLDEST, "Oldest first"), (NEWEST, "Newest first")]


def _undecided_on_some_dimension(dimensions):
    condition = Q()
    for dimension in dimensions:
        condition |= ~Exists(Decision.objects.filter(incident_id=OuterRef("pk"), dimension=dimension))
    return condition


def _current_votes(taxonomy):
    return Annotation.objects.filter(
        incident_id=OuterRef("pk"), dimension__taxonomy=taxonomy, is_current=True, is_adjudication=False
    )


def labeling_queue(taxonomy, analyst, order=QueueOrder.CONFIDENCE, filters=None):
    """Incidents this analyst should label next in this taxonomy.

    Undecided on some dimension, not yet annotated by this analyst, and not already
    labeled by two others (that is a disagreement, which goes to adjudication instead).
    """
    dimensions = list(taxonomy.dimensions.all())
    if not dimensions:
        return Incident.objects.none()
    others = (
        _current_votes(taxonomy)
        .exclude(annotator=analyst)
        .values("incident_id")
        .annotate(annotators=Count("annotator", distinct=True))
        .values("annotators")
    )
    queryset = (
        Incident.objects.filter(_undecided_on_some_dimension(dimensions))
        .exclude(Exists(_current_votes(taxonomy).filter(annotator=analyst)))
        .annotate(other_annotators=Subquery(others[:1]))
        .filter(Q(other_annotators__isnull=True) | Q(other_annotators__lt=2))
    )
    queryset = apply_filters(queryset, filters or {})
    return _ordered(queryset, dimensions[0], order)


def apply_filters(queryset, filters):
    if filters.get("service"):
        queryset = queryset.filter(service=filters["service"])
    if filters.get("severity") is not None:
        queryset = queryset.filter(severity=filters["severity"])
    if filters.get("started_after"):
        queryset = queryset.filter(started_at__date__gte=filters["started_after"])
    if filters.get("started_before"):
        queryset = queryset.filter(started_at__date__lte=filters["started_before"])
    return queryset


def _ordered(queryset, primary_dimension, order):
    if order == QueueOrder.OLDEST:
        return queryset.order_by("started_at", "pk")
    if order == QueueOrder.NEWEST:
        return queryset.order_by("-started_at", "-pk")
    top_score = Suggestion.objects.filter(incident_id=OuterRef("pk"), dimension=primary_dimension).order_by("-score")
    return queryset.annotate(top_score=Subquery(top_score.values("score")[:1])).order_by(
        F("top_score").asc(nulls_last=True), "-started_at", "-pk"
    )


def can_adjudicate(user, taxonomy):
    return has_role(user, Role.ADMIN) or taxonomy.adjudicators.filter(pk=user.pk).exists()


def _disagreements(annotations):
    """(incident id, dimension id) pairs of these annotations where two or more annotators
    disagree and nobody ruled yet."""
    return (
        annotations.filter(is_current=True, is_adjudication=False)
        .values("incident_id", "dimension_id")
        .annotate(annotators=Count("annotator", distinct=True))
        .filter(annotators__gte=2)
        .exclude(
            Exists(Decision.objects.filter(incident_id=OuterRef("incident_id"), dimension_id=OuterRef("dimension_id")))
        )
        .order_by("incident_id", "dimension_id")
        .values_list("incident_id", "dimension_id")
    )


def adjudication_queue(taxonomy):
    """[(incident, dimension)] where two or more annotators disagree and nobody ruled yet."""
    pairs = list(_disagreements(Annotation.objects.filter(dimension__taxonomy=taxonomy)))
    incidents = Incident.objects.in_bulk({incident_id for incident_id, _ in pairs})
    dimensions = {dimension.pk: dimension for dimension in taxonomy.dimensions.all()}
    return [(incidents[incident_id], dimensions[dimension_id]) for incident_id, dimension_id in pairs]


def disputed_dimension_ids(incident, taxonomy):
    """Ids of the taxonomy's dimensions on which this incident waits for a ruling."""
    annotations = Annotation.objects.filter(incident=incident, dimension__taxonomy=taxonomy)
    return {dimension_id for _, dimension_id in _disagreements(annotations)}


def suggestions_for(incident, taxonomy, alternatives=3, evidence=3):
    """{dimension_id: [suggestion, ...]} best first, each with `evidence_incidents` hydrated.

    The evidence ids point at incidents decided when the model suggested; those still
    decided on the suggestion's dimension are loaded in one query, so the analyst sees why
    the model suggests what it does. One whose decision was withdrawn since (its labels
    went back to blind double labeling) is left out: it would show a label not yet settled.
    """
    rows = list(
        Suggestion.objects.filter(incident=incident, dimension__taxonomy=taxonomy)
        .select_related("option__parent")
        .order_by("dimension_id", "-score")
    )
    by_dimension = {}
    for suggestion in rows:
        by_dimension.setdefault(suggestion.dimension_id, [])
        if len(by_dimension[suggestion.dimension_id]) <= alternatives:
            by_dimension[suggestion.dimension_id].append(suggestion)
    evidence_ids = {
        entry.get("incident")
        for suggestions in by_dimension.values()
        for suggestion in suggestions
        for entry in (suggestion.evidence or [])[:evidence]
        if isinstance(entry, dict)
    }
    evidence_incidents = Incident.objects.in_bulk([pk for pk in evidence_ids if pk])
    decided = set(
        Decision.objects.filter(incident_id__in=evidence_incidents, dimension_id__in=by_dimension).values_list(
            "incident_id", "dimension_id"
        )
    )
    for dimension_id, suggestions in by_dimension.items():
        for suggestion in suggestions:
            suggestion.evidence_incidents = [
                (evidence_incidents[entry["incident"]], entry.get("similarity"))
                for entry in (suggestion.evidence or [])[:evidence]
                if isinstance(entry, dict) and (entry.get("incident"), dimension_id) in decided
            ]
    return by_dimension


def my_current_values(incident, taxonomy, analyst):
    """{dimension_id: [option keys]} of this analyst's current annotations (their own only: blind)."""
    values = {}
    annotations = Annotation.objects.filter(
        incident=incident, dimension__taxonomy=taxonomy, annotator=analyst, is_current=True, is_adjudication=False
    ).prefetch_related("options")
    for annotation in annotations:
        values[annotation.dimension_id] = [option.key for option in annotation.options.all()]
    return values


def annotations_of(incident, dimension):
    """Current non-adjudication annotations of one incident and dimension, oldest first."""
    return list(
        Annotation.objects.filter(incident=incident, dimension=dimension, is_current=True, is_adjudication=False)
        .select_related("annotator")
        .prefetch_related("options__parent")
        .order_by("created_at")
    )
