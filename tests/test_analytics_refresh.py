"""The dashboard facts follow the labels: the refresh action, the periodic task and the command."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics import actions, tasks
from analytics.models import FactRefreshState, FilterValue, IncidentFact, LabelerFact, LabelFact
from labeling.actions import save_annotation
from labeling.models import Decision, Taxonomy
from tests.test_analytics_data import annotate, decide, option, suggest


@pytest.fixture
def labeled(taxonomy, make_incident, alice, bob):
    """One incident decided by Alice and labeled blind by Bob, one undecided."""
    first = make_incident(service="chat-api", region="us-east-1")
    decide(taxonomy, first, "category", "timeout")
    decide(taxonomy, first, "mitigation", "hotfix", "rollback")
    annotate(taxonomy, first, "category", alice, "timeout", at=timezone.now() - timedelta(days=1))
    annotate(taxonomy, first, "category", bob, "crash", at=timezone.now())
    second = make_incident(service="", region="")
    return first, second


def fact(incident, taxonomy):
    return IncidentFact.objects.get(incident=incident, taxonomy=taxonomy)


def test_refresh_builds_facts_and_a_second_run_rewrites_nothing(taxonomy, labeled):
    first, second = labeled
    # when
    written = actions.refresh_facts([first.pk, second.pk])
    again = actions.refresh_facts([first.pk, second.pk])
    # then
    assert (written, again) == (2, 0)
    row = fact(first, taxonomy)
    assert row.category_option_id == option(taxonomy, "category", "timeout").pk
    assert row.decided_dimensions == 2
    assert row.mitigation_mask != 0
    assert (row.ttd_seconds, row.ttm_seconds) == (4 * 60, 40 * 60)
    assert fact(second, taxonomy).category_option_id is None
    assert fact(second, taxonomy).service_id is None
    assert set(FilterValue.objects.values_list("field", "value")) >= {("service", "chat-api"), ("region", "us-east-1")}
    pair = LabelFact.objects.get(incident=first)
    assert (pair.first_option_id, pair.second_option_id) == (
        option(taxonomy, "category", "timeout").pk,
        option(taxonomy, "category", "crash").pk,
    )
    assert LabelerFact.objects.filter(incident=first).count() == 2


def test_periodic_run_builds_everything_then_folds_in_a_new_label(taxonomy, labeled, alice, eager_tasks):
    _, second = labeled
    # given: the first run builds the facts (and re-enqueues itself until the full pass is done)
    tasks.refresh_dashboard_facts.delay()
    assert fact(second, taxonomy).category_option_id is None
    assert FactRefreshState.objects.get().catching_up is False
    # when: an analyst labels the second incident through the labeling workflow
    save_annotation(second, taxonomy.dimensions.get(key="category"), alice, [option(taxonomy, "category", "network")])
    result = tasks.refresh_dashboard_facts()
    # then
    assert fact(second, taxonomy).category_option_id == option(taxonomy, "category", "network").pk
    assert result["changed"] >= 1


def test_a_blind_label_waiting_for_its_second_annotator_counts_no_acceptance_trial(taxonomy, make_incident, alice, bob):
    taxonomy.double_label_share = 1.0
    taxonomy.save()
    incident = make_incident()
    suggest(taxonomy, incident, "category", timeout=0.7)
    category = taxonomy.dimensions.get(key="category")
    save_annotation(incident, category, alice, [option(taxonomy, "category", "timeout")])
    # when the facts are refreshed while bob has yet to label blind
    actions.refresh_facts([incident.pk])
    # then the acceptance charts cannot tell bob whether alice took the suggestion
    assert not LabelFact.objects.filter(incident=incident).exists()
    # and once bob has labeled, the trial and the pair are counted
    save_annotation(incident, category, bob, [option(taxonomy, "category", "crash")])
    actions.refresh_facts([incident.pk])
    row = LabelFact.objects.get(incident=incident)
    assert (row.top_suggestion_id, row.top_accepted) == (option(taxonomy, "category", "timeout").pk, True)
    assert row.second_option_id == option(taxonomy, "category", "crash").pk


def test_task_ran_twice_leaves_the_same_facts(taxonomy, labeled, eager_tasks):
    tasks.refresh_dashboard_facts()
    before = list(IncidentFact.objects.order_by("pk").values())
    tasks.refresh_dashboard_facts()
    assert list(IncidentFact.objects.order_by("pk").values()) == before


def test_a_run_while_another_worker_holds_the_claim_does_nothing(taxonomy, labeled):
    FactRefreshState.objects.create(name=actions.STATE_NAME, claimed_until=timezone.now() + timedelta(minutes=5))
    # when
    run = actions.refresh_dashboard_facts()
    # then
    assert run.claimed is False
    assert not IncidentFact.objects.exists()


def test_a_claim_left_by_a_dead_worker_expires(taxonomy, labeled):
    FactRefreshState.objects.create(name=actions.STATE_NAME, claimed_until=timezone.now() - timedelta(seconds=1))
    assert actions.refresh_dashboard_facts().claimed is True
    assert IncidentFact.objects.count() == 2
    assert FactRefreshState.objects.get().claimed_until is None


def test_a_decision_deleted_behind_the_workflow_is_caught_by_the_full_pass(taxonomy, labeled):
    first, _ = labeled
    actions.refresh_dashboard_facts()
    # when: decision rows vanish without any new annotation (a hand-made database fix)
    Decision.objects.filter(incident=first).delete()
    actions.refresh_dashboard_facts()
    # then
    assert fact(first, taxonomy).category_option_id is None
    assert fact(first, taxonomy).decided_dimensions == 0


def test_new_and_edited_incidents_are_folded_in(taxonomy, labeled, make_incident):
    first, _ = labeled
    actions.refresh_dashboard_facts()
    # when
    newcomer = make_incident(severity=4)
    first.severity = 0
    first.save()
    actions.refresh_dashboard_facts()
    # then
    assert fact(newcomer, taxonomy).severity == 4
    assert fact(first, taxonomy).severity == 0


def test_a_new_taxonomy_starts_a_full_pass(taxonomy, labeled):
    actions.refresh_dashboard_facts()
    assert FactRefreshState.objects.get().catching_up is False
    # when
    other = Taxonomy.objects.create(key="other", name="Other")
    other.dimensions.create(key="category", name="Category")
    run = actions.refresh_dashboard_facts()
    # then
    assert run.more is True or FactRefreshState.objects.get().sweeps_completed >= 2
    assert IncidentFact.objects.filter(taxonomy=other).count() == 2


def test_refresh_dashboards_command_rebuilds_and_marks_the_state_caught_up(taxonomy, labeled, capsys):
    call_command("refresh_dashboards", verbosity=0)
    assert IncidentFact.objects.filter(taxonomy=taxonomy).count() == 2
    state = FactRefreshState.objects.get()
    assert state.catching_up is False
    assert state.incident_id_seen == max(incident.pk for incident in labeled)
    assert "Refreshed the dashboard facts of 2 incidents" in capsys.readouterr().out


def test_deleting_an_incident_deletes_its_facts(taxonomy, labeled):
    first, _ = labeled
    actions.refresh_all_facts()
    first.delete()
    assert not IncidentFact.objects.filter(incident_id=first.pk).exists()
    assert not LabelFact.objects.filter(incident_id=first.pk).exists()


def test_one_incident_with_a_typo_year_does_not_stall_every_fact(taxonomy, labeled, make_incident):
    first, _ = labeled
    # given: mitigated_at typed 2205 for 2025, which the importer accepts (180 years: past 32 bits)
    started, mitigated = datetime(2025, 1, 10, tzinfo=UTC), datetime(2205, 1, 10, tzinfo=UTC)
    typo = make_incident(started_at=started, mitigated_at=mitigated, resolved_at=mitigated + timedelta(days=1))
    # when
    actions.refresh_dashboard_facts()
    # then: the whole batch is folded in, the typo as it was typed, and the marks move on
    assert fact(first, taxonomy).category_option_id == option(taxonomy, "category", "timeout").pk
    assert fact(typo, taxonomy).ttm_seconds == (mitigated - started).total_seconds()
    assert FactRefreshState.objects.get().incident_id_seen == typo.pk
