"""Hand-built incidents and labels for the analytics tests (no tests here; the name makes it ours).

The set (UTC, 2025): January has A, B, C (decided) and D (undecided); February is empty;
March has E and F (decided) and G (category only). Alice labels everything, Bob labels A to C
blind, Adam rules on B. Durations are whole minutes so percentiles are exact.
"""

from datetime import UTC as utc
from datetime import datetime, timedelta

from analytics import actions
from labeling.choices import AnnotationSource
from labeling.models import Annotation, Decision, Option, Suggestion


def option(taxonomy, dimension_key, key):
    return Option.objects.get(dimension__taxonomy=taxonomy, dimension__key=dimension_key, key=key)


def decide(taxonomy, incident, dimension_key, *keys):
    """Decision rows as the labeling workflow writes them: one per chosen option."""
    for key in keys:
        chosen = option(taxonomy, dimension_key, key)
        Decision.objects.create(
            incident=incident, dimension=chosen.dimension, option=chosen, decided_at=incident.started_at
        )


def annotate(taxonomy, incident, dimension_key, annotator, *keys, at, adjudication=False):
    """A current human annotation made at `at`."""
    chosen = [option(taxonomy, dimension_key, key) for key in keys]
    annotation = Annotation.objects.create(
        incident=incident,
        dimension=chosen[0].dimension,
        annotator=annotator,
        source=AnnotationSource.HUMAN,
        is_adjudication=adjudication,
    )
    annotation.options.set(chosen)
    Annotation.objects.filter(pk=annotation.pk).update(created_at=at)
    return annotation


def suggest(taxonomy, incident, dimension_key, **scores):
    for key, score in scores.items():
        chosen = option(taxonomy, dimension_key, key)
        Suggestion.objects.create(
            incident=incident, dimension=chosen.dimension, option=chosen, score=score, model_version="test"
        )


def at(month, day=10, hour=12):
    return datetime(2025, month, day, hour, tzinfo=utc)


def incident_at(make_incident, month, *, day=10, ttd, ttm, **fields):
    started = at(month, day)
    return make_incident(
        started_at=started,
        detected_at=started + timedelta(minutes=ttd),
        mitigated_at=started + timedelta(minutes=ttm),
        resolved_at=started + timedelta(minutes=ttm + 60),
        **fields,
    )


def build_study_set(taxonomy, make_incident, alice, bob, adam):
    """The hand-built set of the module docstring; returns its incidents by letter."""
    t = taxonomy
    made = {
        "A": incident_at(make_incident, 1, day=5, ttd=4, ttm=40, severity=1, service="chat-api"),
        "B": incident_at(make_incident, 1, day=12, ttd=10, ttm=60, severity=2, service="chat-api"),
        "C": incident_at(
            make_incident,
            1,
            day=20,
            ttd=2,
            ttm=20,
            severity=1,
            service="embeddings-api",
            modality="embedding",
            model_name="bge-large",
        ),
        "D": incident_at(make_incident, 1, day=28, ttd=30, ttm=90, severity=3, service="chat-api"),
        "E": incident_at(make_incident, 3, day=3, ttd=6, ttm=30, severity=1, service="chat-api"),
        "F": incident_at(
            make_incident,
            3,
            day=14,
            ttd=8,
            ttm=50,
            severity=0,
            service="image-gen",
            modality="image",
            model_name="flux-1",
            region="eu-west-1",
        ),
        "G": incident_at(make_incident, 3, day=30, ttd=60, ttm=120, severity=2, service="gateway"),
    }
    labels = {
        "A": ("timeout", "automated", ("hotfix", "rollback")),
        "B": ("network", "customer_reported", ("traffic_routing",)),
        "C": ("crash", "automated", ("hotfix",)),
        "E": ("inference_engine", "internal_manual", ("capacity_increase",)),
        "F": ("timeout", "automated", ("hotfix", "node_rebalancing")),
    }
    for name, (category, detection, mitigation) in labels.items():
        decide(t, made[name], "category", category)
        decide(t, made[name], "detection", detection)
        decide(t, made[name], "mitigation", *mitigation)
        labeled = at(2 if name in "ABC" else 4, 1)
        annotate(t, made[name], "category", alice, category, at=labeled)
        annotate(t, made[name], "detection", alice, detection, at=labeled)
        annotate(t, made[name], "mitigation", alice, *mitigation, at=labeled)
    decide(t, made["G"], "category", "human_error")
    # Bob labels A to C blind, a day after Alice; he disagrees on B's category and Adam rules.
    for name, category in (("A", "timeout"), ("B", "timeout"), ("C", "crash")):
        annotate(t, made[name], "category", bob, category, at=at(2, 2))
    for name, detection in (("A", "automated"), ("B", "customer_reported")):
        annotate(t, made[name], "detection", bob, detection, at=at(2, 2))
    annotate(t, made["B"], "category", adam, "network", at=at(2, 3), adjudication=True)
    suggest(t, made["A"], "category", timeout=0.9, network=0.1)
    suggest(t, made["B"], "category", crash=0.8, network=0.2)
    suggest(t, made["C"], "detection", automated=0.7)
    suggest(t, made["A"], "mitigation", hotfix=0.6, rollback=0.5)
    actions.refresh_all_facts()
    return made
