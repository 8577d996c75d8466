"""Every dashboard number on a hand-built set of incidents equals the number worked out by hand.

The set (UTC, 2025): January has A, B, C (decided) and D (undecided); February is empty;
March has E and F (decided) and G (category only). Alice labels everything, Bob labels A to C
blind, Adam rules on B. Durations are whole minutes so percentiles are exact.
"""

from datetime import date

import pytest

from analytics import actions, queries
from analytics.models import FilterValue
from tests.test_analytics_data import build_study_set, decide, incident_at


@pytest.fixture
def study_set(taxonomy, make_incident, alice, bob, adam):
    return build_study_set(taxonomy, make_incident, alice, bob, adam)


def scope_for(taxonomy, **filters):
    return queries.Scope(taxonomy_id=taxonomy.pk, **filters)


@pytest.fixture(params=["monthly rollup", "facts"])
def counted_from(request):
    """Counting charts read the monthly rollup where it can answer: both must give the same numbers."""
    return {"allow_monthly": request.param == "monthly rollup"}


def series(frame, key):
    return next(item for item in frame["series"] if item["key"] == key)


def test_category_share_counts_decided_incidents_with_empty_months_and_undecided_apart(
    taxonomy, study_set, counted_from
):
    # when
    frame = queries.category_share(scope_for(taxonomy, **counted_from), queries.load_layout(taxonomy.pk))
    # then
    assert frame["months"] == ["2025-01", "2025-02", "2025-03"]
    assert frame["decided"] == [3, 0, 3]
    assert frame["undecided"] == [1, 0, 0]
    assert series(frame, "inference_engine")["counts"] == [2, 0, 2]
    assert series(frame, "inference_engine")["shares"] == [pytest.approx(2 / 3), None, pytest.approx(2 / 3)]
    assert series(frame, "infrastructure")["shares"] == [pytest.approx(1 / 3), None, 0.0]
    assert series(frame, "operational")["counts"] == [0, 0, 1]
    assert series(frame, "model_configuration")["counts"] == [0, 0, 0]


def test_subcategory_drill_down_shares_within_the_category(taxonomy, study_set, counted_from):
    frame = queries.category_share(
        scope_for(taxonomy, **counted_from), queries.load_layout(taxonomy.pk), "inference_engine", "timeout"
    )
    assert [item["key"] for item in frame["series"]][:1] == ["timeout"]  # timeouts first
    assert frame["decided"] == [2, 0, 2]
    assert series(frame, "timeout")["shares"] == [0.5, None, 0.5]
    assert series(frame, "crash")["shares"] == [0.5, None, 0.0]
    # E was decided on the category itself, without a subcategory.
    assert series(frame, "_inference_engine")["name"] == "Inference engine (no subcategory)"
    assert series(frame, "_inference_engine")["counts"] == [0, 0, 1]


def test_detection_shares_and_auto_detection_rate(taxonomy, study_set, counted_from):
    frame = queries.detection_share(scope_for(taxonomy, **counted_from), queries.load_layout(taxonomy.pk))
    assert frame["decided"] == [3, 0, 2]  # G has no detection decision
    assert frame["undecided"] == [1, 0, 1]
    assert frame["rate"] == [pytest.approx(2 / 3), None, 0.5]
    assert frame["rate_total"] == pytest.approx(3 / 5)
    assert series(frame, "customer_reported")["counts"] == [1, 0, 0]


def test_multi_valued_mitigation_counts_an_incident_under_each_of_its_mitigations(taxonomy, study_set, counted_from):
    frame = queries.mitigation_share(scope_for(taxonomy, **counted_from), queries.load_layout(taxonomy.pk))
    assert frame["decided"] == [3, 0, 2]
    assert series(frame, "hotfix")["counts"] == [2, 0, 1]
    assert series(frame, "rollback")["counts"] == [1, 0, 0]  # A: hotfix + rollback counts in both
    assert frame["hotfix_rate"] == [pytest.approx(2 / 3), None, 0.5]
    assert frame["hotfix_total"] == pytest.approx(3 / 5)
    # Operational actions: B (traffic routing) in January, E (capacity) and F (node rebalancing) in March.
    assert frame["automation_counts"] == [1, 0, 2]
    assert frame["automation_rate"] == [pytest.approx(1 / 3), None, 1.0]
    assert frame["automation_total"] == pytest.approx(3 / 5)


def test_time_to_detect_boxes_by_category_and_severity_are_exact_percentiles(taxonomy, study_set):
    data = queries.duration_boxes(scope_for(taxonomy), queries.load_layout(taxonomy.pk), "ttd")
    engine = next(group for group in data["categories"] if group["key"] == "inference_engine")["box"]
    # A 4, C 2, E 6, F 8 minutes: percentile_cont of [2, 4, 6, 8].
    assert {key: engine[key] / 60 for key in ("p10", "p25", "p50", "p75", "p90")} == pytest.approx(
        {"p10": 2.6, "p25": 3.5, "p50": 5.0, "p75": 6.5, "p90": 7.4}
    )
    assert engine["n"] == 4
    infrastructure = next(group for group in data["categories"] if group["key"] == "infrastructure")["box"]
    assert infrastructure["p50"] == 600 and infrastructure["n"] == 1
    severities = {group["key"]: group["box"] for group in data["severities"]}
    assert severities["sev1"]["p50"] == 240  # A 4, C 2, E 6: median 4 minutes
    assert severities["sev3"]["p50"] == 30 * 60  # D is undecided but has a severity
    assert severities["sev4"] is None


def test_duration_trend_per_month_with_an_empty_month(taxonomy, study_set):
    data = queries.duration_trend(scope_for(taxonomy), "ttd")
    assert data["months"] == ["2025-01", "2025-02", "2025-03"]
    assert data["n"] == [4, 0, 3]
    # January [2, 4, 10, 30]: median 7, p90 24; March [6, 8, 60]: median 8, p90 49.6.
    assert [value / 60 if value else value for value in data["p50"]] == [pytest.approx(7), None, pytest.approx(8)]
    assert [value / 60 if value else value for value in data["p90"]] == [pytest.approx(24), None, pytest.approx(49.6)]


def test_time_to_mitigate_by_mitigation_type(taxonomy, study_set):
    data = queries.ttm_by_mitigation(scope_for(taxonomy), queries.load_layout(taxonomy.pk))
    boxes = {group["key"]: group["box"] for group in data["groups"]}
    assert boxes["hotfix"]["n"] == 3 and boxes["hotfix"]["p50"] == 40 * 60  # A 40, C 20, F 50
    assert boxes["rollback"]["p50"] == 40 * 60
    assert boxes["self_recovered"] is None


def test_a_duration_of_centuries_is_counted_by_every_timing_chart(taxonomy, make_incident):
    # given: a hotfixed timeout whose mitigation was typed 2205 for 2025 (sums past 32 bits)
    minutes = 180 * 365 * 24 * 60
    typo = incident_at(make_incident, 1, ttd=5, ttm=minutes)
    decide(taxonomy, typo, "category", "timeout")
    decide(taxonomy, typo, "mitigation", "hotfix")
    actions.refresh_all_facts()
    scope, layout = scope_for(taxonomy), queries.load_layout(taxonomy.pk)
    # when
    trend = queries.duration_trend(scope, "ttm")
    categories = {group["key"]: group["box"] for group in queries.duration_boxes(scope, layout, "ttm")["categories"]}
    mitigations = {group["key"]: group["box"] for group in queries.ttm_by_mitigation(scope, layout)["groups"]}
    # then
    assert trend["p50"] == [minutes * 60]
    assert categories["inference_engine"]["p50"] == minutes * 60
    assert mitigations["hotfix"]["p50"] == minutes * 60


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"service": "chat-api"}, {"decided": [2, 0, 1], "engine": [1, 0, 1]}),
        ({"severities": (1,)}, {"decided": [2, 0, 1], "engine": [2, 0, 1]}),
        ({"date_from": date(2025, 3, 1)}, {"decided": [3], "engine": [2]}),
        ({"date_to": date(2025, 1, 15)}, {"decided": [2], "engine": [1]}),
        ({"model": "flux-1"}, {"decided": [0, 0, 1], "engine": [0, 0, 1]}),
        ({"modality": "embedding"}, {"decided": [1, 0, 0], "engine": [1, 0, 0]}),
        ({"region": "eu-west-1"}, {"decided": [0, 0, 1], "engine": [0, 0, 1]}),
    ],
)
def test_filters_narrow_every_count(taxonomy, study_set, filters, expected, counted_from):
    codes = {"service": "service", "model": "model_name", "modality": "modality", "region": "region"}
    resolved = {}
    for name, value in filters.items():
        if name in codes:
            value = FilterValue.objects.get(field=codes[name], value=value).pk
        resolved[name] = value
    frame = queries.category_share(scope_for(taxonomy, **resolved, **counted_from), queries.load_layout(taxonomy.pk))
    assert frame["decided"] == expected["decided"]
    assert series(frame, "inference_engine")["counts"] == expected["engine"]


def test_agreement_pairs_the_first_two_analysts_and_leaves_out_adjudications(taxonomy, study_set):
    data = queries.agreement_by_month(scope_for(taxonomy), queries.load_layout(taxonomy.pk))
    by_key = {item["key"]: item for item in data["series"]}
    assert set(by_key) == {"category", "detection"}  # mitigation is multi-valued
    # Category pairs (timeout, timeout), (network, timeout), (crash, crash): kappa 0.5.
    assert by_key["category"]["kappa"] == [pytest.approx(0.5), None, None]
    assert by_key["category"]["pairs"] == [3, 0, 0]
    assert by_key["category"]["kappa_total"] == pytest.approx(0.5)
    assert by_key["detection"]["kappa_total"] == pytest.approx(1.0)
    assert by_key["detection"]["pairs_total"] == 2


def test_suggestion_acceptance_per_dimension_and_per_option(taxonomy, study_set):
    data = queries.suggestion_acceptance(scope_for(taxonomy), queries.load_layout(taxonomy.pk))
    dimensions = {row["key"]: (row["accepted"], row["trials"]) for row in data["dimensions"]}
    assert dimensions == {"category": (1, 2), "detection": (1, 1), "mitigation": (1, 1)}
    options = {row["key"]: (row["accepted"], row["trials"]) for row in data["options"]}
    assert options == {"timeout": (1, 1), "crash": (0, 1), "automated": (1, 1), "hotfix": (1, 1)}


def test_decided_partly_decided_and_undecided_per_month(taxonomy, study_set, counted_from):
    data = queries.decided_by_month(scope_for(taxonomy, **counted_from), queries.load_layout(taxonomy.pk))
    assert data["decided"] == [3, 0, 2]
    assert data["partial"] == [0, 0, 1]
    assert data["undecided"] == [1, 0, 0]


def test_throughput_counts_incidents_per_analyst_by_month_labeled(taxonomy, study_set):
    data = queries.throughput(scope_for(taxonomy))
    assert data["months"] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    counts = {item["name"]: item["counts"] for item in data["series"]}
    assert counts == {"alice": [0, 3, 0, 2], "bob": [0, 3, 0, 0], "adam": [0, 1, 0, 0]}


def test_study_comparison_beside_the_reference_figures(taxonomy, study_set, counted_from):
    data = queries.study_comparison(scope_for(taxonomy, **counted_from), queries.load_layout(taxonomy.pk))
    rows = {row["key"]: row for row in data["rows"]}
    assert (rows["inference_engine"]["team"], rows["inference_engine"]["n"]) == (pytest.approx(4 / 6), 6)
    assert rows["inference_engine"]["study"] == 0.60 and rows["inference_engine"]["source"] == "paper abstract"
    assert rows["infrastructure"]["source"] == "secondary summary"
    assert rows["timeout_in_engine"]["team"] == pytest.approx(2 / 4)
    assert rows["auto_detected"]["team"] == pytest.approx(3 / 5)
    assert rows["hotfix"]["team"] == pytest.approx(3 / 5)
    assert (rows["kappa"]["team"], rows["kappa"]["n"]) == (pytest.approx(0.5), 3)
    assert (rows["incidents"]["team"], rows["incidents"]["n"]) == (6, 7)
    assert data["undecided"] == 1


def test_summary_has_the_numbers_of_the_charts(taxonomy, study_set, counted_from):
    data = queries.summary(
        scope_for(taxonomy, date_from=date(2025, 1, 1), **counted_from), queries.load_layout(taxonomy.pk)
    )
    january = data["months"][0]
    assert january["month"] == "2025-01"
    assert (january["incidents"], january["decided"], january["undecided"]) == (4, 3, 1)
    assert january["category"]["inference_engine"] == 2
    assert january["auto_detection_rate"] == pytest.approx(2 / 3)
    assert january["mitigation"]["hotfix"] == 2 and january["mitigation"]["rollback"] == 1
    assert january["hotfix_rate"] == pytest.approx(2 / 3)
    assert data["months"][1]["hotfix_rate"] is None
    assert data["totals"]["hotfix_rate"] == pytest.approx(3 / 5)


def test_incidents_behind_a_bar(taxonomy, study_set):
    layout = queries.load_layout(taxonomy.pk)
    scope = scope_for(taxonomy)

    def titles(**drill):
        return {incident.pk for incident in queries.incidents_behind(scope, layout, **drill)}

    s = study_set
    assert titles(month=date(2025, 1, 1), dimension_key="category", option_key="inference_engine") == {
        s["A"].pk,
        s["C"].pk,
    }
    assert titles(month=date(2025, 3, 1), dimension_key="mitigation", option_key="hotfix") == {s["F"].pk}
    assert titles(dimension_key="detection", option_key="automated") == {s["A"].pk, s["C"].pk, s["F"].pk}
    assert titles(dimension_key="category", option_key="no-such-option") == set()
    assert titles(dimension_key="category", option_key="_no-such-option") == set()


@pytest.mark.parametrize("first_key", [None, "timeout"], ids=["overview drill-down", "engine dashboard"])
def test_the_no_subcategory_bar_lists_only_the_incidents_it_counts(taxonomy, study_set, first_key):
    layout = queries.load_layout(taxonomy.pk)
    scope = scope_for(taxonomy)
    frame = queries.category_share(scope, layout, "inference_engine", first_key)
    bar = next(item for item in frame["series"] if item["name"] == "Inference engine (no subcategory)")
    # when: the March bar is clicked (dashboards.js sends the series key as the option)
    behind = queries.incidents_behind(scope, layout, date(2025, 3, 1), "category", bar["key"])
    # then: E, decided on the category itself; not F, decided on its timeout subcategory
    assert bar["counts"][2] == 1
    assert [incident.pk for incident in behind] == [study_set["E"].pk]
    everything = queries.incidents_behind(scope, layout, date(2025, 3, 1), "category", "inference_engine")
    assert {incident.pk for incident in everything} == {study_set["E"].pk, study_set["F"].pk}
