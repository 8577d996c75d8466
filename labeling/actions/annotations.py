"""Writes of labels: an annotator's value, and the decision the current values imply."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from incidents.models import Incident
from labeling.choices import AnnotationSource, DecisionMethod
from labeling.models import Annotation, Decision


class LabelError(ValueError):
    """A label that does not fit its dimension; the message says which option or rule."""


def check_options(dimension, options):
    """Reject options of another dimension, and several values on a single-valued one."""
    options = list(dict.fromkeys(options))
    if not options:
        raise LabelError(f"{dimension.key}: choose at least one option")
    foreign = [option.key for option in options if option.dimension_id != dimension.pk]
    if foreign:
        raise LabelError(f"{dimension.key}: {', '.join(foreign)} is not an option of this dimension")
    if not dimension.multi and len(options) > 1:
        raise LabelError(f"{dimension.key} takes one value, not {len(options)}")
    return options


def save_annotation(incident, dimension, annotator, options, *, source=AnnotationSource.HUMAN, adjudication=False):
    """Record an annotator's value and refresh the decision; return (annotation, created).

    The annotator's previous value stays as history (`is_current=False`, linked by
    `replaces`); saving the same value again changes nothing, so re-imports are no-ops.
    Two annotators saving at once never touch each other's rows; the same annotator
    twice at once is serialised by the `annotation_one_current_per_annotator` constraint.
    """
    options = check_options(dimension, options)
    try:
        with transaction.atomic():
            _lock_labels_of(incident)
            annotation, created = _replace_current(incident, dimension, annotator, options, source, adjudication)
            refresh_decision(incident, dimension)
    except IntegrityError:
        # A concurrent save of the same annotator won the race: retry on top of it.
        with transaction.atomic():
            _lock_labels_of(incident)
            annotation, created = _replace_current(incident, dimension, annotator, options, source, adjudication)
            refresh_decision(incident, dimension)
    return annotation, created


def _lock_labels_of(incident):
    """Queue label saves of one incident behind each other (its row lock, taken first).

    Two analysts saving the same incident at once both rewrite its decision rows; taken in
    whatever order, those row locks deadlocked now and then (tests/test_concurrency.py).
    One lock taken first makes the second save wait and then see the first one's annotation.
    """
    list(Incident.objects.select_for_update(of=("self",)).filter(pk=incident.pk).values_list("pk", flat=True))


def _replace_current(incident, dimension, annotator, options, source, adjudication):
    """Make `options` the annotator's current value; (annotation, created)."""
    current = (
        Annotation.objects.select_for_update(of=("self",))
        .order_by("pk")
        .filter(incident=incident, dimension=dimension, annotator=annotator, is_adjudication=adjudication)
        .filter(is_current=True)
        .first()
    )
    if current is not None and set(current.options.all()) == set(options):
        return current, False
    if current is not None:
        Annotation.objects.filter(pk=current.pk).update(is_current=False)
    annotation = Annotation.objects.create(
        incident=incident,
        dimension=dimension,
        annotator=annotator,
        source=source,
        is_adjudication=adjudication,
        replaces=current,
    )
    annotation.options.set(options)
    audit.record(
        annotator,
        "annotation.adjudicated" if adjudication else "annotation.saved",
        incident,
        f"{dimension.key} = {', '.join(option.key for option in options)} on incident {incident.pk}",
        {"dimension": dimension.key, "old": _keys(current), "new": [option.key for option in options]},
    )
    return annotation, True


def _keys(annotation):
    return sorted(option.key for option in annotation.options.all()) if annotation is not None else []


def refresh_decision(incident, dimension):
    """Make the decision follow the current annotations.

    An adjudication wins; else one annotator decides alone (unless the incident is in the
    taxonomy's double-labeled share and waits for its second annotator), several who
    agree decide together, and a disagreement leaves it undecided for adjudication.
    """
    current = list(
        Annotation.objects.filter(incident=incident, dimension=dimension, is_current=True)
        .exclude(source=AnnotationSource.MODEL)
        .select_related("annotator")
        .prefetch_related("options")
        .order_by("-created_at")
    )
    ruling = next((annotation for annotation in current if annotation.is_adjudication), None)
    votes = [annotation for annotation in current if not annotation.is_adjudication]
    if ruling is not None:
        return _write_decision(incident, dimension, ruling.options.all(), DecisionMethod.ADJUDICATION, ruling.annotator)
    value_sets = {frozenset(annotation.options.all()) for annotation in votes}
    if len(value_sets) != 1 or _waits_for_second(dimension, incident, votes):
        return _write_decision(incident, dimension, [], None, None)
    method = DecisionMethod.SINGLE if len(votes) == 1 else DecisionMethod.AGREEMENT
    return _write_decision(incident, dimension, votes[0].options.all(), method, votes[0].annotator)


def _waits_for_second(dimension, incident, votes):
    return len(votes) == 1 and dimension.taxonomy.requires_double_labeling(incident.pk)


def _write_decision(incident, dimension, options, method, decided_by):
    """Replace the decision rows of (incident, dimension) with one row per option."""
    options = list(options)
    before = sorted(
        Decision.objects.filter(incident=incident, dimension=dimension).values_list("option__key", flat=True)
    )
    after = sorted(option.key for option in options)
    if before != after:
        audit.record(
            decided_by,
            "decision.changed",
            incident,
            f"decision {dimension.key} = {', '.join(after) or 'undecided'} on incident {incident.pk}",
            {"dimension": dimension.key, "old": before, "new": after, "method": method or ""},
        )
    Decision.objects.filter(incident=incident, dimension=dimension).exclude(option__in=options).delete()
    now = timezone.now()
    for option in options:
        Decision.objects.update_or_create(
            incident=incident,
            dimension=dimension,
            option=option,
            defaults={"method": method, "decided_by": decided_by, "decided_at": now},
        )
    return options
