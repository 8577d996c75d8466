"""Dashboard pages, CSV exports, the incidents behind a bar and the summary API: access, numbers, queries."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from analytics import actions
from analytics.dashboards import DASHBOARDS
from tests.test_analytics_data import build_study_set

TREND_DASHBOARDS = ["overview", "detection", "mitigation", "timing", "engine", "study"]
# Queries per page: session, user, roles; taxonomies, filter values; layout; the month range;
# then one scan per dataset (the timing page has four datasets, two of them monthly).
PAGE_QUERIES = {
    "overview": 8,
    "detection": 8,
    "mitigation": 9,
    "timing": 12,
    "engine": 8,
    "study": 9,
    "labeling": 14,
}


@pytest.fixture
def study_set(taxonomy, make_incident, alice, bob, adam):
    return build_study_set(taxonomy, make_incident, alice, bob, adam)


@pytest.fixture
def as_actor(request, client):
    def log_in(actor):
        if actor != "anonymous":
            client.force_login(request.getfixturevalue(actor))
        return client

    return log_in


def figure(response, chart_key):
    """The plotly figure a page hands to the browser for one chart (its json_script)."""
    html = response.content.decode()
    start = html.index(f'id="figure-{chart_key}" type="application/json">') + len(
        f'id="figure-{chart_key}" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def trace(fig, name):
    return next(item for item in fig["data"] if item.get("name") == name)


@pytest.mark.parametrize("key", TREND_DASHBOARDS)
@pytest.mark.parametrize(
    ("actor", "status"), [("charlie", 403), ("olga", 403), ("alice", 403), ("maria", 200), ("adam", 200)]
)
def test_trend_dashboards_are_for_managers_and_admins(as_actor, taxonomy, key, actor, status):
    assert as_actor(actor).get(reverse("analytics:dashboard", args=[key])).status_code == status


@pytest.mark.parametrize(
    ("actor", "status"), [("charlie", 403), ("olga", 403), ("alice", 200), ("bob", 200), ("maria", 200), ("adam", 200)]
)
def test_labeling_health_is_for_analysts_managers_and_admins(as_actor, taxonomy, actor, status):
    assert as_actor(actor).get(reverse("analytics:dashboard", args=["labeling"])).status_code == status


def test_anonymous_visitors_are_sent_to_sign_in(client, taxonomy):
    response = client.get(reverse("analytics:dashboard", args=["overview"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_analysts_landing_on_dashboards_get_labeling_health(as_actor, taxonomy):
    response = as_actor("alice").get(reverse("analytics:overview"), {"service": ""})
    assert response.status_code == 302
    assert response["Location"] == reverse("analytics:dashboard", args=["labeling"]) + "?service="


def test_on_call_never_gets_people_level_figures(as_actor, taxonomy, study_set):
    client = as_actor("olga")
    assert client.get(reverse("analytics:chart-csv", args=["labeling", "throughput"])).status_code == 403
    assert client.get(reverse("analytics:dashboard", args=["labeling"])).status_code == 403
    assert "throughput" in [chart.key for chart in DASHBOARDS["labeling"].charts if chart.roles]


def test_unknown_dashboard_and_chart_are_404(as_actor, taxonomy):
    client = as_actor("maria")
    assert client.get(reverse("analytics:dashboard", args=["nope"])).status_code == 404
    assert client.get(reverse("analytics:chart-csv", args=["overview", "nope"])).status_code == 404


@pytest.mark.parametrize("key", [*TREND_DASHBOARDS, "labeling"])
def test_every_dashboard_has_a_pinned_number_of_queries(
    as_actor,
    taxonomy,
    study_set,
    key,
    django_assert_max_num_queries,
):
    client = as_actor("maria")
    client.get(reverse("analytics:dashboard", args=[key]))  # session and caches warm
    with django_assert_max_num_queries(PAGE_QUERIES[key]):
        response = client.get(reverse("analytics:dashboard", args=[key]))
    assert response.status_code == 200
    for chart in DASHBOARDS[key].charts:
        assert f'id="figure-{chart.key}"' in response.content.decode()


def test_overview_figure_carries_the_hand_computed_shares(as_actor, study_set):
    response = as_actor("maria").get(reverse("analytics:overview"))
    fig = figure(response, "category-share")
    engine = trace(fig, "Inference engine")
    assert engine["x"] == ["2025-01", "2025-02", "2025-03"]
    assert engine["y"] == [pytest.approx(2 / 3), None, pytest.approx(2 / 3)]
    assert engine["customdata"][0][:2] == ["inference_engine", "2025-01-01"]
    assert fig["layout"]["yaxis"]["title"]["text"] == "Share of decided incidents"


def test_overview_counts_mode_and_subcategory_drill_down(as_actor, study_set):
    client = as_actor("maria")
    counts = figure(client.get(reverse("analytics:overview"), {"mode": "count"}), "category-share")
    assert trace(counts, "Inference engine")["y"] == [2, 0, 2]
    drilled = figure(client.get(reverse("analytics:overview"), {"category": "inference_engine"}), "category-share")
    assert [item["name"] for item in drilled["data"]][:2] == ["Timeout", "Resource exhaustion"]
    assert trace(drilled, "Timeout")["y"] == [0.5, None, 0.5]
    assert drilled["layout"]["title"]["text"] == "Inference engine: subcategory share per month"


def test_colors_are_the_same_for_a_category_on_every_chart(as_actor, study_set):
    client = as_actor("maria")
    overview = figure(client.get(reverse("analytics:overview")), "category-share")
    timing = figure(client.get(reverse("analytics:dashboard", args=["timing"])), "ttd-boxes")
    engine_box = next(item for item in timing["data"] if item["name"] == "Inference engine")
    assert trace(overview, "Inference engine")["marker"]["color"] == engine_box["marker"]["color"] == "#7c3aed"


def test_filters_apply_and_stay_in_the_links(as_actor, study_set):
    client = as_actor("maria")
    response = client.get(reverse("analytics:dashboard", args=["mitigation"]), {"service": "chat-api", "severity": [1]})
    hotfix = figure(response, "hotfix-rate")
    # chat-api and SEV1: A in January (hotfix), E in March (capacity increase).
    assert trace(hotfix, "Mitigated by hotfix")["y"] == [1.0, None, 0.0]
    html = response.content.decode()
    assert "/dashboards/mitigation/hotfix-rate.csv?service=chat-api&amp;severity=1" in html
    assert 'href="/dashboards/timing/?service=chat-api&amp;severity=1"' in html


def test_bad_filters_are_a_400_naming_the_problem(as_actor, study_set):
    client = as_actor("maria")
    response = client.get(reverse("analytics:overview"), {"from": "2025-05-01", "to": "2025-01-01"})
    assert response.status_code == 400
    assert "The start date is after the end date." in response.content.decode()
    assert client.get(reverse("analytics:overview"), {"service": "no-such-service"}).status_code == 400
    assert client.get(reverse("analytics:overview"), {"version": "9"}).status_code == 400


def test_chart_csv_has_the_chart_numbers(as_actor, study_set):
    response = as_actor("maria").get(reverse("analytics:chart-csv", args=["detection", "auto-detection-rate"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="auto-detection-rate-' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["month", "decided", "auto_detection_rate"],
        ["2025-01", "3", "0.6667"],
        ["2025-02", "0", ""],
        ["2025-03", "2", "0.5"],
    ]


def test_analysts_export_labeling_health_but_not_trends(as_actor, study_set):
    client = as_actor("alice")
    assert client.get(reverse("analytics:chart-csv", args=["labeling", "agreement"])).status_code == 200
    assert client.get(reverse("analytics:chart-csv", args=["overview", "category-share"])).status_code == 403


def test_incidents_behind_a_bar_are_listed_with_the_filters(as_actor, study_set):
    client = as_actor("maria")
    params = {"dimension": "category", "option": "inference_engine", "month": "2025-01", "service": "chat-api"}
    response = client.get(reverse("analytics:incidents"), params)
    assert response.status_code == 200
    assert [incident.pk for incident in response.context["page"]] == [study_set["A"].pk]
    assert as_actor("olga").get(reverse("analytics:incidents"), params).status_code == 403


def test_the_no_subcategory_bar_lists_its_incidents_under_its_own_name(as_actor, study_set):
    params = {"dimension": "category", "option": "_inference_engine", "month": "2025-03"}
    response = as_actor("maria").get(reverse("analytics:incidents"), params)
    assert [incident.pk for incident in response.context["page"]] == [study_set["E"].pk]
    assert "Inference engine (no subcategory) · March 2025" in response.content.decode()


def test_printable_page_draws_static_charts_without_controls(as_actor, study_set):
    html = as_actor("maria").get(reverse("analytics:dashboard", args=["mitigation"]), {"print": "1"}).content.decode()
    assert "data-static" in html
    assert 'class="filters dash-filters"' not in html
    assert "data-print" in html


def test_study_page_labels_where_each_reference_figure_comes_from(as_actor, study_set):
    html = as_actor("maria").get(reverse("analytics:dashboard", args=["study"])).content.decode()
    assert html.count("paper abstract</span>") == 6
    assert html.count("secondary summary</span>") == 3
    assert "66.7%" in html  # the inference-engine share of the hand-built set


def test_dashboards_load_plotly_and_their_script_only_on_dashboard_pages(as_actor, study_set):
    client = as_actor("maria")
    html = client.get(reverse("analytics:overview")).content.decode()
    assert "vendor/plotly-4.1.1.min.js" in html and "js/dashboards.js" in html and "css/dashboards.css" in html
    assert "plotly" not in client.get(reverse("incidents:list")).content.decode()


@pytest.mark.parametrize(
    ("actor", "status"),
    [("anonymous", 403), ("charlie", 403), ("olga", 403), ("alice", 403), ("maria", 200), ("adam", 200)],
)
def test_summary_api_is_for_managers_and_admins(as_actor, taxonomy, actor, status):
    response = as_actor(actor).get(reverse("api:analytics-summary"), {"taxonomy": "llm-incidents"})
    assert response.status_code == status


def test_summary_api_returns_the_numbers_on_screen(as_actor, study_set):
    client = as_actor("maria")
    params = {"taxonomy": "llm-incidents", "from": "2025-01-01", "to": "2025-03-31"}
    data = client.get(reverse("api:analytics-summary"), params).json()
    assert data["taxonomy"] == {"key": "llm-incidents", "name": "LLM serving incidents", "version": 1}
    assert [month["month"] for month in data["months"]] == ["2025-01", "2025-02", "2025-03"]
    january = data["months"][0]
    assert january["category"]["inference_engine"] == 2
    assert january["category_share"]["inference_engine"] == pytest.approx(2 / 3)
    assert january["auto_detection_rate"] == pytest.approx(2 / 3)
    assert january["hotfix_rate"] == pytest.approx(2 / 3)
    assert january["mitigation"]["rollback"] == 1
    assert data["months"][1]["decided"] == 0 and data["months"][1]["hotfix_rate"] is None
    page = figure(client.get(reverse("analytics:dashboard", args=["detection"]), params), "auto-detection-rate")
    assert trace(page, "Auto-detected")["y"] == [month["auto_detection_rate"] for month in data["months"]]


def test_summary_api_refuses_bad_parameters(as_actor, taxonomy):
    response = as_actor("maria").get(reverse("api:analytics-summary"), {"from": "yesterday"})
    assert response.status_code == 400
    assert "from" in response.json()


def test_summary_api_is_in_the_openapi_schema(as_actor, taxonomy):
    schema = as_actor("maria").get(reverse("api:schema"), {"format": "json"}).json()
    parameters = {item["name"] for item in schema["paths"]["/api/analytics/summary/"]["get"]["parameters"]}
    assert {"taxonomy", "from", "to", "severity"} <= parameters


@pytest.mark.parametrize("params", [{"to": "9999-12-31"}, {"from": "2025-01-01", "to": "9999-12-31"}])
def test_summary_api_and_pages_count_up_to_the_last_month_with_incidents(as_actor, study_set, params):
    client = as_actor("maria")
    data = client.get(reverse("api:analytics-summary"), params).json()
    assert [month["month"] for month in data["months"]] == ["2025-01", "2025-02", "2025-03"]
    assert (data["counted_from"], data["counted_to"], data["truncated"]) == ("2025-01-01", "2025-03-31", False)
    assert data["totals"]["incidents"] == 7
    for key in [*TREND_DASHBOARDS, "labeling"]:
        assert client.get(reverse("analytics:dashboard", args=[key]), params).status_code == 200
    csv_response = client.get(reverse("analytics:chart-csv", args=["detection", "auto-detection-rate"]), params)
    assert csv_response.status_code == 200


def test_summary_api_from_long_ago_counts_from_the_first_month_with_incidents(as_actor, study_set):
    data = as_actor("maria").get(reverse("api:analytics-summary"), {"from": "2000-01-01"}).json()
    assert [month["month"] for month in data["months"]] == ["2025-01", "2025-02", "2025-03"]
    assert (data["counted_from"], data["counted_to"], data["truncated"]) == ("2025-01-01", "2025-03-31", False)
    assert data["totals"]["incidents"] == 7


def test_summary_api_and_page_keep_the_last_ten_years_and_say_so(as_actor, study_set, make_incident):
    # given one incident fifteen years before the others
    make_incident(started_at=datetime(2010, 1, 5, tzinfo=UTC))
    actions.refresh_all_facts()
    client = as_actor("maria")
    # when
    data = client.get(reverse("api:analytics-summary")).json()
    page = client.get(reverse("analytics:overview"))
    # then the most recent 120 months are counted, in the months and the totals alike
    assert len(data["months"]) == 120
    assert (data["months"][0]["month"], data["months"][-1]["month"]) == ("2015-04", "2025-03")
    assert (data["counted_from"], data["counted_to"], data["truncated"]) == ("2015-04-01", "2025-03-31", True)
    assert data["totals"]["incidents"] == sum(month["incidents"] for month in data["months"]) == 7
    assert trace(figure(page, "category-share"), "Inference engine")["x"][0] == "2015-04"
    assert (
        "Counted: 2015-04-01 to 2025-03-31 (the most recent 10 years with incidents; older ones are left out)"
        in page.content.decode()
    )


def test_dashboard_page_states_the_period_counted(as_actor, study_set):
    html = as_actor("maria").get(reverse("analytics:overview"), {"from": "2024-06-01"}).content.decode()
    assert "From: 2024-06-01 · Counted: 2025-01-01 to 2025-03-31</p>" in html


def test_summary_api_names_to_when_it_is_before_from(as_actor, taxonomy):
    response = as_actor("maria").get(reverse("api:analytics-summary"), {"from": "2025-02-01", "to": "2025-01-01"})
    assert response.status_code == 400
    assert response.json() == {"to": [{"message": "The start date is after the end date.", "code": ""}]}
