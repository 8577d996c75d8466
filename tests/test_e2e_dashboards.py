"""End to end in headless Chromium: a manager reads every dashboard on demo data and drills into a bar.

Screenshots of each dashboard land in test-artifacts/ (dashboard-*.png) for a person to look at.
"""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from accounts.actions import create_user_with_role
from accounts.roles import Role
from analytics.actions import refresh_all_facts
from tests.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-dashboard-password"
DEMO_INCIDENTS = 1500


@pytest.fixture
def demo(taxonomy):
    """Demo incidents with labels, suggestions for a third (seed_demo makes none; 4 in 5 right), and facts."""
    # A transactional test flushes the tables, the role groups of the data migration too.
    for role in Role.values:
        Group.objects.get_or_create(name=role)
    call_command("seed_demo", count=DEMO_INCIDENTS, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO labeling_suggestion (incident_id, dimension_id, option_id, score, model_version, evidence,
                                             created_at)
            SELECT d.incident_id, d.dimension_id,
                   CASE WHEN d.incident_id % 5 = 0
                        THEN (SELECT o.id FROM labeling_option o WHERE o.dimension_id = d.dimension_id
                              AND o.id <> d.option_id ORDER BY o.id LIMIT 1)
                        ELSE d.option_id END,
                   0.9, 'e2e', '[]', now()
            FROM (SELECT DISTINCT ON (incident_id, dimension_id) incident_id, dimension_id, option_id
                  FROM labeling_decision WHERE incident_id % 3 = 0 ORDER BY incident_id, dimension_id, option_id) d
            """
        )
    refresh_all_facts()


def wait_for_charts(page):
    """Every chart of the page drawn by plotly (an SVG inside each chart element)."""
    count = page.locator(".chart[data-figure]").count()
    page.wait_for_function(
        f"document.querySelectorAll('.chart[data-figure] .main-svg').length >= {count}", timeout=20_000
    )
    return count


def test_manager_reads_every_dashboard_and_drills_into_a_bar(page, demo):
    create_user_with_role("mona", Role.MANAGER, PASSWORD)
    log_in(page, "mona", PASSWORD)
    # when: the overview opens from the main navigation
    page.click("nav[aria-label=Main] >> text=Dashboards")
    page.wait_for_url("**/dashboards/")
    # then
    assert wait_for_charts(page) == 1
    assert page.locator("#chart-category-share .legendtext").count() == 4
    assert page.locator("#chart-category-share .ytitle").text_content() == "Share of decided incidents"
    screenshot(page, "dashboard-overview")

    # when: a click on a category in the legend drills into its subcategories
    page.locator("#chart-category-share .legend .traces", has_text="Inference engine").locator(".legendtoggle").click()
    page.wait_for_url("**category=inference_engine**")
    wait_for_charts(page)
    assert "Timeout" in page.locator("#chart-category-share .legend").text_content()
    screenshot(page, "dashboard-overview-inference-engine")

    # when: a click on a bar opens the incidents behind it
    bar = page.locator("#chart-category-share .trace.bars .point path").nth(-1).bounding_box()
    page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    page.wait_for_url("**/dashboards/incidents/**")
    assert page.locator("table.incidents tbody tr").count() >= 1
    assert "Incidents behind the chart" in page.locator("h1").inner_text()
    screenshot(page, "dashboard-incidents-behind-a-bar")

    for key in ("detection", "mitigation", "timing", "engine", "study", "labeling"):
        page.goto(f"/dashboards/{key}/")
        assert wait_for_charts(page) >= 1
        screenshot(page, f"dashboard-{key}")

    # The study page labels where each reference figure comes from.
    page.goto("/dashboards/study/")
    assert page.locator(".source-paper-abstract").count() == 6
    assert page.locator(".source-secondary-summary").count() == 3

    # Filters stay in the URL, so the view is a shareable link.
    page.goto("/dashboards/mitigation/")
    page.check("input[name=severity][value='1']")
    page.select_option("#id_service", "chat-api")
    page.click("text=Apply")
    page.wait_for_url("**service=chat-api**")
    wait_for_charts(page)
    assert "severity=1" in page.url
    assert "Service: chat-api" in page.locator(".dash-subtitle").inner_text()
    screenshot(page, "dashboard-mitigation-filtered")

    page.click("text=Printable page")
    page.wait_for_url("**print=1**")
    wait_for_charts(page)
    assert page.locator(".dash-filters").count() == 0
    screenshot(page, "dashboard-mitigation-printable")


def test_analyst_lands_on_labeling_health(page, demo):
    create_user_with_role("ana", Role.ANALYST, PASSWORD)
    log_in(page, "ana", PASSWORD)
    page.click("nav[aria-label=Main] >> text=Dashboards")
    page.wait_for_url("**/dashboards/labeling/**")
    assert wait_for_charts(page) == 5
    assert [tab.strip() for tab in page.locator(".dash-tabs a").all_inner_texts()] == ["Labeling health"]
