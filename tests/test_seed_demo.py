"""seed_demo and its pure generator: realistic, reproducible, labeled like the study."""

import json
import string
import threading
from collections import Counter
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.contrib.postgres.search import SearchQuery
from django.core.management import CommandError, call_command
from django.db.models import Count

from accounts.roles import Role
from incidents.models import Incident, IncidentUpdate
from labeling import demo, demo_text
from labeling.actions import DEFAULT_TAXONOMY_FILE
from labeling.management.commands import seed_demo
from labeling.models import Annotation, Decision, Option

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SAMPLE_SIZE = 5_000


@pytest.fixture(scope="module")
def sample():
    """A large sample of the pure generator, shared by the proportion tests."""
    return list(demo.generate_incidents(SAMPLE_SIZE, seed=11, now=NOW))


def _share(records, predicate):
    return sum(1 for record in records if predicate(record)) / len(records)


def _seed(count=300, seed=1):
    out = StringIO()
    call_command("seed_demo", count=count, seed=seed, stdout=out)
    return out.getvalue()


# The pure generator


def test_same_seed_gives_identical_incidents():
    first = list(demo.generate_incidents(50, seed=3, now=NOW))
    again = list(demo.generate_incidents(50, seed=3, now=NOW))
    other = list(demo.generate_incidents(50, seed=4, now=NOW))
    assert first == again
    assert [r.title for r in first] != [r.title for r in other]


def test_incidents_do_not_depend_on_how_the_range_is_split():
    whole = list(demo.generate_incidents(20, seed=3, now=NOW))
    halves = [*demo.generate_incidents(10, seed=3, now=NOW), *demo.generate_incidents(10, seed=3, now=NOW, start=10)]
    assert whole == halves
    assert [r.external_id for r in whole[:2]] == ["DEMO-3-0000000", "DEMO-3-0000001"]


def test_category_shares_match_the_study(sample):
    top = Counter(demo.PARENT_OF[r.labels.category] for r in sample)
    inference = [r for r in sample if demo.PARENT_OF[r.labels.category] == "inference_engine"]
    assert 0.55 <= top["inference_engine"] / SAMPLE_SIZE <= 0.65
    assert 0.16 <= top["infrastructure"] / SAMPLE_SIZE <= 0.24
    assert 0.12 <= top["model_configuration"] / SAMPLE_SIZE <= 0.20
    assert 0.02 <= top["operational"] / SAMPLE_SIZE <= 0.06
    assert 0.35 <= _share(inference, lambda r: r.labels.category == "timeout") <= 0.45


def test_detection_and_mitigation_shares_match_the_study(sample):
    assert 0.69 <= _share(sample, lambda r: r.labels.detection == "automated") <= 0.79
    assert 0.09 <= _share(sample, lambda r: r.labels.detection == "customer_reported") <= 0.15
    assert 0.23 <= _share(sample, lambda r: "hotfix" in r.labels.mitigation) <= 0.33
    assert 0.16 <= _share(sample, lambda r: len(r.labels.mitigation) == 2) <= 0.24
    mitigations = Counter(key for r in sample for key in r.labels.mitigation)
    assert {key for key, _ in mitigations.most_common(4)} == {
        "hotfix",
        "traffic_routing",
        "node_rebalancing",
        "capacity_increase",
    }


def test_about_85_percent_are_labeled_and_the_newest_least(sample):
    assert 0.80 <= _share(sample, lambda r: r.decided) <= 0.90
    by_age = sorted(sample, key=lambda r: r.started_at)
    oldest, newest = by_age[: SAMPLE_SIZE // 4], by_age[-SAMPLE_SIZE // 4 :]
    assert _share(newest, lambda r: not r.decided) > 3 * _share(oldest, lambda r: not r.decided)
    double = [r for r in sample if r.second]
    assert 0.15 <= len(double) / _share(sample, lambda r: r.decided) / SAMPLE_SIZE <= 0.25
    assert all(r.decided for r in double)
    assert all(r.labeled_at is None for r in sample if not r.decided)


def test_second_analyst_agrees_about_90_percent_per_dimension(sample):
    double = [r for r in sample if r.second]
    for dimension in ("category", "detection", "mitigation"):
        agreed = _share(double, lambda r, d=dimension: getattr(r.labels, d) == getattr(r.second, d))
        assert 0.85 <= agreed <= 0.95, dimension


def test_times_fall_in_the_last_18_months_in_order(sample):
    earliest = NOW.timestamp() - demo.HISTORY_DAYS * 86400 - 1
    for record in sample:
        assert earliest <= record.started_at.timestamp()
        assert record.started_at < record.detected_at < record.mitigated_at < record.resolved_at < NOW
        assert record.detected_at <= record.updates[0][1]
        posted = [when for _, when, _ in record.updates]
        assert posted == sorted(posted) and len(set(posted)) == len(posted)
        assert posted[-1] < NOW


def test_customer_reported_incidents_are_detected_later(sample):
    def median_minutes(detection):
        delays = sorted(
            (r.detected_at - r.started_at).total_seconds() / 60 for r in sample if r.labels.detection == detection
        )
        return delays[len(delays) // 2]

    assert median_minutes("automated") < 10 < median_minutes("internal_manual") < median_minutes("customer_reported")


def test_timelines_have_3_to_6_updates_in_stage_order(sample):
    order = ["investigating", "identified", "update", "monitoring", "resolved", "postmortem"]
    for record in sample:
        stages = [stage for stage, _, _ in record.updates]
        assert 3 <= len(stages) <= 6
        assert stages[0] == "investigating" and "resolved" in stages
        assert record.status == stages[-1]
        after = stages[stages.index("resolved") :]
        assert after in (["resolved"], ["resolved", "postmortem"])
        assert all(order.index(s) <= order.index("monitoring") for s in stages[: stages.index("resolved")])


def _longest_literal(template):
    return max((literal for literal, *_ in string.Formatter().parse(template)), key=len)


def _uses_one_of(text, templates):
    return any(_longest_literal(template) in text for template in templates)


def test_postmortems_are_written_from_their_labels(sample):
    for record in sample[:1000]:
        bank = demo_text.SUBCATEGORY_TEXT[record.labels.category]
        story = next(story for story in bank["stories"] if _uses_one_of(record.postmortem, [story["cause"]]))
        assert _uses_one_of(record.title, story["titles"] + bank["titles"])
        assert _uses_one_of(record.postmortem, [story["symptom"]])
        if {"hotfix", "configuration_change"} & set(record.labels.mitigation):
            assert _uses_one_of(record.postmortem, [story["fix"]])
        assert _uses_one_of(record.postmortem, demo_text.DETECTION_TEXT[record.labels.detection])
        for key in record.labels.mitigation:
            assert _uses_one_of(record.postmortem, demo_text.MITIGATION_TEXT[key])


def test_records_are_complete(sample):
    for record in sample:
        assert record.title and record.summary and record.customer_impact
        assert "{" not in record.postmortem + record.title + record.summary
        assert record.postmortem.count("## ") == 6
        assert 0 <= record.severity <= 4
        assert record.model_name in demo_text.MODELS[record.modality]
        assert record.service in record.tags
    assert Counter(r.severity for r in sample).most_common(2)[0][0] in (1, 2)


def test_every_template_uses_only_known_slots():
    known = set(demo_text.SLOTS)
    templates = [*demo_text.SUMMARY_TEXT, *demo_text.CUSTOMER_IMPACT_TEXT, *demo_text.MITIGATION_SHORT.values()]
    templates += [t for texts in demo_text.DETECTION_TEXT.values() for t in texts]
    templates += [t for texts in demo_text.MITIGATION_TEXT.values() for t in texts]
    templates += [t for texts in demo_text.IMPACT_TEXT.values() for t in texts]
    templates += [t for texts in demo_text.UPDATE_TEXT.values() for t in texts]
    for bank in demo_text.SUBCATEGORY_TEXT.values():
        templates += [*bank["titles"], *bank["followups"]]
        templates += [story[name] for story in bank["stories"] for name in ("symptom", "cause_short", "cause", "fix")]
        templates += [title for story in bank["stories"] for title in story["titles"]]
    for template in templates:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        assert names <= known, template


def test_demo_labels_are_the_default_taxonomy_options():
    spec = {d["key"]: d for d in json.loads(DEFAULT_TAXONOMY_FILE.read_text())["dimensions"]}
    parents = {c["key"]: o["key"] for o in spec["category"]["options"] for c in o["children"]}
    assert parents == demo.PARENT_OF
    assert set(demo_text.SUBCATEGORY_TEXT) == set(parents)
    assert set(demo.TYPICAL_MITIGATIONS) == set(parents)
    assert set(demo.DETECTION_WEIGHTS) == {o["key"] for o in spec["detection"]["options"]}
    assert set(demo.MITIGATION_WEIGHTS) == {o["key"] for o in spec["mitigation"]["options"]}
    assert set(demo_text.MITIGATION_TEXT) == set(demo.MITIGATION_WEIGHTS)


# The command


def test_seed_demo_creates_incidents_with_timelines(taxonomy):
    # when
    output = _seed(count=300, seed=1)
    # then
    incidents = Incident.objects.filter(source="demo")
    assert incidents.count() == 300
    assert sorted(incidents.values_list("external_id", flat=True))[::299] == ["DEMO-1-0000000", "DEMO-1-0000299"]
    per_incident = Counter(IncidentUpdate.objects.filter(incident__source="demo").values_list("incident", flat=True))
    assert len(per_incident) == 300
    assert set(per_incident.values()) <= {3, 4, 5, 6}
    assert output.startswith("Seeded 300 demo incidents (seed 1, from #0)")


def test_seeded_timestamps_are_set_and_ordered(taxonomy):
    _seed(count=300, seed=1)
    for incident in Incident.objects.filter(source="demo").prefetch_related("updates"):
        assert incident.started_at < incident.detected_at < incident.mitigated_at < incident.resolved_at
        assert incident.created_at == incident.detected_at
        posted = [update.posted_at for update in incident.updates.all()]
        assert posted == sorted(posted)
        assert incident.updated_at == posted[-1]
        assert incident.status == incident.updates.all()[len(posted) - 1].stage


def test_seeded_rows_match_the_generator(taxonomy):
    # given: what the pure generator makes for the same seed and numbering
    expected = list(demo.generate_incidents(300, seed=1, now=NOW))
    # when
    _seed(count=300, seed=1)
    # then: same text, same labels (only the times move with `now`)
    stored = {i.external_id: i for i in Incident.objects.filter(source="demo")}
    assert [stored[r.external_id].title for r in expected] == [r.title for r in expected]
    # The summary names the start date, which moves with `now`; the rest does not.
    after_summary = [r.postmortem.split("## Impact")[1] for r in expected]
    assert [stored[r.external_id].postmortem.split("## Impact")[1] for r in expected] == after_summary
    decided = {r.external_id for r in expected if r.decided}
    labeled = set(Decision.objects.values_list("incident__external_id", flat=True))
    assert labeled == decided
    assert 0.75 <= len(decided) / 300 <= 0.95


def test_running_twice_adds_new_incidents_without_duplicates(taxonomy):
    # when
    _seed(count=300, seed=1)
    output = _seed(count=300, seed=1)
    # then
    ids = list(Incident.objects.filter(source="demo").values_list("external_id", flat=True))
    assert len(ids) == len(set(ids)) == 600
    assert max(ids) == "DEMO-1-0000599"
    assert "from #300" in output
    titles = Counter(Incident.objects.values_list("postmortem", flat=True))
    assert max(titles.values()) == 1


def test_decisions_one_per_single_valued_dimension_and_one_or_two_mitigations(taxonomy):
    _seed(count=300, seed=1)
    counts = Counter(
        (row["dimension__key"], row["n"])
        for row in Decision.objects.values("incident", "dimension__key").annotate(n=Count("id"))
    )
    assert {n for (key, n) in counts if key in ("category", "detection")} == {1}
    assert {n for (key, n) in counts if key == "mitigation"} == {1, 2}
    assert counts["category", 1] == counts["detection", 1] == counts["mitigation", 1] + counts["mitigation", 2]
    expected = list(demo.generate_incidents(300, seed=1, now=NOW))
    assert counts["mitigation", 2] == sum(1 for r in expected if r.decided and len(r.labels.mitigation) == 2)


def test_category_decisions_name_a_subcategory(taxonomy):
    _seed(count=300, seed=1)
    decisions = Decision.objects.filter(dimension__key="category").select_related("option__parent")
    assert {d.option.parent.key for d in decisions} == set(demo.CATEGORY_WEIGHTS)


def _disagreements(record):
    """The dimensions on which the second analyst differs from the first."""
    if record.second is None:
        return []
    return [
        key
        for key in ("category", "detection", "mitigation")
        if getattr(record.labels, key) != getattr(record.second, key)
    ]


def test_annotations_have_options_and_a_second_analyst_sometimes(taxonomy):
    # given
    expected = [r for r in demo.generate_incidents(300, seed=1, now=NOW) if r.decided]
    # when
    _seed(count=300, seed=1)
    # then
    by_annotator = Counter(
        Annotation.objects.filter(is_adjudication=False).values_list("annotator__username", flat=True)
    )
    assert by_annotator == {"analyst": 3 * len(expected), "analyst2": 3 * sum(1 for r in expected if r.second)}
    rulings = Annotation.objects.filter(is_adjudication=True)
    assert set(rulings.values_list("annotator__username", flat=True)) <= {"analyst"}
    assert rulings.count() == sum(len(_disagreements(r)) for r in expected)
    option_rows = Annotation.options.through.objects.count()
    first_and_second = sum(
        (2 + len(r.labels.mitigation)) + (2 + len(r.second.mitigation) if r.second else 0) for r in expected
    )
    ruling_rows = sum(
        len(getattr(r.labels, key)) if key == "mitigation" else 1 for r in expected for key in _disagreements(r)
    )
    assert option_rows == first_and_second + ruling_rows
    assert not Annotation.objects.filter(options=None).exists()
    assert set(Annotation.objects.values_list("source", "is_current").distinct()) == {("human", True)}


def test_decision_methods_follow_the_second_analyst(taxonomy):
    expected = {r.external_id: r for r in demo.generate_incidents(300, seed=1, now=NOW) if r.decided}
    _seed(count=300, seed=1)
    for external_id, key, method in Decision.objects.values_list("incident__external_id", "dimension__key", "method"):
        record = expected[external_id]
        if record.second is None:
            assert method == "single"
        elif getattr(record.second, key) == getattr(record.labels, key):
            assert method == "agreement"
        else:
            assert method == "adjudication"
    methods = Counter(Decision.objects.values_list("method", flat=True))
    assert methods["single"] > methods["agreement"] > 0


def test_search_documents_are_filled(taxonomy):
    _seed(count=300, seed=1)
    assert not Incident.objects.filter(source="demo", search_document=None).exists()
    some = Incident.objects.filter(source="demo").order_by("id").first()
    found = Incident.objects.filter(search_document=SearchQuery(some.title, search_type="plain", config="english"))
    assert some in found
    timeouts = Incident.objects.filter(search_document=SearchQuery("timeout", config="english"))
    assert timeouts.filter(decisions__option__key="timeout").exists()


def test_missing_taxonomy_is_seeded_first(db):
    _seed(count=20, seed=2)
    assert Incident.objects.filter(source="demo").count() == 20
    assert Option.objects.filter(dimension__taxonomy__key="llm-incidents", key="timeout").exists()


def test_a_taxonomy_without_a_demo_option_is_refused(taxonomy):
    # given
    Option.objects.filter(dimension__taxonomy=taxonomy, key="upstream_fix").delete()
    # when
    with pytest.raises(CommandError, match=r"mitigation\.upstream_fix"):
        _seed(count=20, seed=2)
    # then
    assert not Incident.objects.exists()


@pytest.fixture
def role_groups(transactional_db):
    """The role groups a migration creates, again: a transactional test before this one flushed them."""
    for role in Role.values:
        Group.objects.get_or_create(name=role)


@pytest.mark.django_db(transaction=True)
def test_parallel_writers_commit_every_batch_complete(monkeypatch, role_groups, taxonomy):
    # given: small batches, so 300 incidents take the parallel path (committed, not in a test transaction)
    monkeypatch.setattr(seed_demo, "BATCH_SIZE", 70)
    writer_threads = []
    write = seed_demo._write_batch_and_disconnect

    def spy(batch, target):
        writer_threads.append(threading.current_thread().name)
        return write(batch, target)

    monkeypatch.setattr(seed_demo, "_write_batch_and_disconnect", spy)
    # when
    _seed(count=300, seed=9)
    # then
    assert len(writer_threads) == 5
    assert all(name.startswith("seed-demo") for name in writer_threads)
    assert Incident.objects.filter(source="demo").count() == 300
    assert not Incident.objects.filter(search_document=None).exists()
    assert IncidentUpdate.objects.values("incident").distinct().count() == 300
    expected = [r for r in demo.generate_incidents(300, seed=9, now=NOW) if r.decided]
    assert Decision.objects.filter(dimension__key="category").count() == len(expected)
