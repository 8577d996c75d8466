"""End to end in headless Chromium: keyboard labeling, blind second analyst, adjudication."""

import pytest

from labeling.models import Decision
from tests.browser import log_in, screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _label_with_keys(page, keys):
    page.wait_for_selector("#label-form fieldset.dimension.active")
    for key in keys:
        page.keyboard.press(key)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def _browser_of(browser, live_server, username):
    """A logged-in browser of its own per person: a page left behind (its prefetch of the next
    incident) cannot hand the next login a fresh CSRF cookie, as one shared context did."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 1000})
    page = context.new_page()
    log_in(page, username, PASSWORD)
    return context, page


def test_analysts_label_blind_and_an_admin_adjudicates(browser, live_server, make_incident, taxonomy, alice, bob, adam):
    taxonomy.double_label_share = 1.0
    taxonomy.save()
    incidents = [make_incident(title=f"Chat requests time out, case {n}") for n in range(5)]
    # alice labels five incidents with the keyboard only: engine > timeout, automated, hotfix
    context, page = _browser_of(browser, live_server, "alice")
    page.goto(f"/label/{taxonomy.key}/?order=oldest")
    screenshot(page, "labeling-screen")
    for _ in incidents:
        _label_with_keys(page, ["1", "1", "1", "1"])
    assert page.locator("h2", has_text="Your queue is empty").count() == 1
    # bob labels the first one blind and disagrees: infrastructure > node failure
    context.close()
    context, page = _browser_of(browser, live_server, "bob")
    page.goto(f"/label/{taxonomy.key}/?order=oldest")
    assert page.locator("#incident-title").inner_text().endswith("case 0")
    assert "alice" not in page.content()
    _label_with_keys(page, ["2", "1", "1", "1"])
    # the category disagreement reaches adam's adjudication queue
    context.close()
    context, page = _browser_of(browser, live_server, "adam")
    page.goto(f"/label/{taxonomy.key}/adjudication/")
    screenshot(page, "adjudication-queue")
    entry = page.locator("section.adjudication", has_text="case 0")
    entry.get_by_label("Infrastructure › Node or GPU failure").check()
    entry.get_by_role("button", name="Decide").click()
    page.wait_for_selector("text=No disagreements")
    # and the decision shows on the incident page
    page.goto(incidents[0].get_absolute_url())
    page.wait_for_selector("#labels h3")
    assert "Infrastructure › Node or GPU failure" in page.locator("#labels").inner_text()
    screenshot(page, "incident-after-adjudication")
    context.close()
    assert Decision.objects.filter(incident=incidents[1], dimension__key="category").count() == 0  # waits for a second
    assert Decision.objects.get(incident=incidents[0], dimension__key="category").method == "adjudication"
