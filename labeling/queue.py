"""Reads for the labeling screen: each analyst's queue and the adjudication queue."""

from django.db.models import Case, Count, Exists, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Least

from accounts.roles import Role, has_role
from incidents.models import Incident
from labeling.choices import AnnotationSource
from labeling.models import Annotation, Decision, Suggestion


class QueueOrder:
    CONFIDENCE = "confidence"  # lowest top suggestion score first: what the model is least sure of
    OLDEST = "oldest"
    NEWEST = "newest"
    CHOICES = [(CONFIDENCE, "Least confident first"), (OLDEST, "Oldest first"), (NEWEST, "Newest first")]


def _votes(dimension):
    """Current human votes on one dimension of the incident in the outer query (rulings aside)."""
    return Annotation.objects.filter(
        incident_id=OuterRef("pk"), dimension=dimension, is_current=True, is_adjudication=False
    ).exclude(source=AnnotationSource.MODEL)


def _decided(dimension):
    return Exists(Decision.objects.filter(incident_id=OuterRef("pk"), dimension=dimension))


def open_to(analyst, dimension):
    """The incident still needs this analyst's value on this dimension.

    Undecided, not voted on by them, and not voted on by two others already (a
    disagreement, which goes to adjudication). Counted per dimension, so an incident whose
    two analysts each left a different dimension blank stays in someone's queue.
    """
    two_others = (
        _votes(dimension)
        .exclude(annotator=analyst)
        .values("incident_id")
        .annotate(annotators=Count("annotator", distinct=True))
        .filter(annotators__gte=2)
    )
    return ~_decided(dimension) & ~Exists(_votes(dimension).filter(annotator=analyst)) & ~Exists(two_others)


def labeling_queue(taxonomy, analyst, order=QueueOrder.CONFIDENCE, filters=None):
    """Incidents this analyst should label next in this taxonomy: open to them on some dimension."""
    dimensions = list(taxonomy.dimensions.all())
    if not dimensions:
        return Incident.objects.none()
    needed = Q()
    for dimension in dimensions:
        needed |= open_to(analyst, dimension)
    queryset = apply_filters(Incident.objects.filter(needed), filters or {})
    return _ordered(queryset, dimensions, order)


def next_in_queue(queue, incident, dimensions, order):
    """The queue's incident after `incident` in its order, or None at its end.

    An incident opened from a link need not be in the queue; its place is where it would sort.
    """
    sort_key = _sort_key(order)
    fields = [field for field, _ in sort_key]
    current = _ordered(Incident.objects.filter(pk=incident.pk), dimensions, order).values(*fields).first()
    return queue.filter(_after(sort_key, current)).exclude(pk=incident.pk).first()


def _after(sort_key, current):
    """Rows that sort after the `current` row under `sort_key` (nulls last), as a Q."""
    after, same_so_far = Q(pk__in=[]), Q()
    for field, descending in sort_key:
        value = current[field]
        if value is None:
            same = Q(**{f"{field}__isnull": True})
        else:
            beyond = Q(**{f"{field}__{'lt' if descending else 'gt'}": value}) | Q(**{f"{field}__isnull": True})
            after |= same_so_far & beyond
            same = Q(**{field: value})
        same_so_far &= same
    return after


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


# Each order as [(field, descending)]; the confidence order sorts missing scores last.
_SORT_KEYS = {
    QueueOrder.CONFIDENCE: [("top_score", False), ("started_at", True), ("pk", True)],
    QueueOrder.OLDEST: [("started_at", False), ("pk", False)],
    QueueOrder.NEWEST: [("started_at", True), ("pk", True)],
}


def _sort_key(order):
    return _SORT_KEYS.get(order, _SORT_KEYS[QueueOrder.CONFIDENCE])


def _ordered(queryset, dimensions, order):
    sort_key = _sort_key(order)
    if any(field == "top_score" for field, _ in sort_key):
        queryset = queryset.annotate(top_score=_least_confidence(dimensions))
    return queryset.order_by(
        *(
            F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)
            for field, descending in sort_key
        )
    )


def _least_confidence(dimensions):
    """The lowest top suggestion score over the incident's undecided dimensions (None without any).

    An incident is as uncertain as its least certain open question; a decided dimension's
    score no longer matters.
    """
    scores = []
    for dimension in dimensions:
        top = Suggestion.objects.filter(incident_id=OuterRef("pk"), dimension=dimension).order_by("-score")
        scores.append(Case(When(_decided(dimension), then=None), default=Subquery(top.values("score")[:1])))
    return scores[0] if len(scores) == 1 else Least(*scores)


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
