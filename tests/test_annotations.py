"""Annotations and the decisions they imply: single, agreement, disagreement, adjudication."""

import pytest

from labeling.actions import LabelError, save_annotation
from labeling.models import Annotation, Decision, Option


def _option(taxonomy, key):
    return Option.objects.select_related("dimension__taxonomy").get(dimension__taxonomy=taxonomy, key=key)


def _decided(incident, dimension_key):
    rows = Decision.objects.filter(incident=incident, dimension__key=dimension_key).order_by("option__key")
    return [(row.option.key, row.method) for row in rows]


def test_a_single_annotator_decides(taxonomy, make_incident, alice):
    incident = make_incident()
    timeout = _option(taxonomy, "timeout")
    annotation, created = save_annotation(incident, timeout.dimension, alice, [timeout])
    assert created is True
    assert annotation.annotator == alice
    assert _decided(incident, "category") == [("timeout", "single")]


def test_saving_the_same_value_again_changes_nothing(taxonomy, make_incident, alice):
    incident = make_incident()
    timeout = _option(taxonomy, "timeout")
    save_annotation(incident, timeout.dimension, alice, [timeout])
    _, created = save_annotation(incident, timeout.dimension, alice, [timeout])
    assert created is False
    assert Annotation.objects.count() == 1


def test_a_change_keeps_the_history(taxonomy, make_incident, alice):
    incident = make_incident()
    timeout, crash = _option(taxonomy, "timeout"), _option(taxonomy, "crash")
    first, _ = save_annotation(incident, timeout.dimension, alice, [timeout])
    second, _ = save_annotation(incident, timeout.dimension, alice, [crash])
    first.refresh_from_db()
    assert first.is_current is False
    assert second.replaces == first
    assert _decided(incident, "category") == [("crash", "single")]


def test_two_annotators_who_agree_decide_together(taxonomy, make_incident, alice, bob):
    incident = make_incident()
    timeout = _option(taxonomy, "timeout")
    save_annotation(incident, timeout.dimension, alice, [timeout])
    save_annotation(incident, timeout.dimension, bob, [timeout])
    assert _decided(incident, "category") == [("timeout", "agreement")]
    assert Annotation.objects.filter(is_current=True).count() == 2


def test_a_disagreement_is_undecided_until_adjudicated(taxonomy, make_incident, alice, bob, adam):
    incident = make_incident()
    timeout, crash = _option(taxonomy, "timeout"), _option(taxonomy, "crash")
    save_annotation(incident, timeout.dimension, alice, [timeout])
    save_annotation(incident, timeout.dimension, bob, [crash])
    assert _decided(incident, "category") == []
    # when
    save_annotation(incident, timeout.dimension, adam, [crash], adjudication=True)
    # then both annotations stay, and the ruling decides
    assert _decided(incident, "category") == [("crash", "adjudication")]
    assert Annotation.objects.filter(is_current=True, is_adjudication=False).count() == 2


def test_multi_valued_mitigation_decides_every_value(taxonomy, make_incident, alice):
    incident = make_incident()
    hotfix, rollback = _option(taxonomy, "hotfix"), _option(taxonomy, "rollback")
    save_annotation(incident, hotfix.dimension, alice, [hotfix, rollback])
    assert _decided(incident, "mitigation") == [("hotfix", "single"), ("rollback", "single")]
    save_annotation(incident, hotfix.dimension, alice, [rollback])
    assert _decided(incident, "mitigation") == [("rollback", "single")]


def test_double_labeled_incidents_wait_for_the_second_analyst(taxonomy, make_incident, alice, bob):
    taxonomy.double_label_share = 1.0
    taxonomy.save()
    incident = make_incident()
    automated = _option(taxonomy, "automated")
    save_annotation(incident, automated.dimension, alice, [automated])
    assert _decided(incident, "detection") == []
    save_annotation(incident, automated.dimension, bob, [automated])
    assert _decided(incident, "detection") == [("automated", "agreement")]


@pytest.mark.parametrize(
    ("keys", "message"),
    [([], "at least one"), (["timeout", "crash"], "takes one value"), (["hotfix"], "not an option")],
)
def test_labels_that_do_not_fit_are_rejected(taxonomy, make_incident, alice, keys, message):
    incident = make_incident()
    category = _option(taxonomy, "timeout").dimension
    with pytest.raises(LabelError, match=message):
        save_annotation(incident, category, alice, [_option(taxonomy, key) for key in keys])
    assert not Annotation.objects.exists()
