"""End to end in headless Chromium: an admin signs in and reads incidents."""

import pytest

from accounts.actions import create_user_with_role
from accounts.roles import Role
from tests.browser import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_signs_in_and_reads_an_incident(page, make_incident, taxonomy):
    create_user_with_role("root", Role.ADMIN, "a-long-admin-password")
    make_incident(
        title="KV cache exhaustion rejected chat requests",
        postmortem="## Root cause\n\nThe **KV cache** filled up.\n\n<script>document.title='pwned'</script>",
        updates=[("investigating", 3, "Elevated 503s on chat."), ("resolved", 80, "Recovered after rerouting.")],
    )
    make_incident(title="DNS failure broke the gateway", service="gateway", severity=0)
    # when
    log_in(page, "root", "a-long-admin-password")
    # then
    assert page.locator("table.incidents tbody tr").count() == 2
    screenshot(page, "incidents-list")
    page.click("text=KV cache exhaustion rejected chat requests")
    page.wait_for_selector("#labels h3")  # the htmx labels panel has loaded
    assert page.locator(".prose strong").inner_text() == "KV cache"
    assert page.title() != "pwned"
    assert "Recovered after rerouting." in page.locator(".timeline").inner_text()
    screenshot(page, "incident-detail")


def test_anonymous_visitor_sees_the_login_page(page):
    page.goto("/incidents/")
    assert "/accounts/login/" in page.url
    assert page.locator("h1").inner_text() == "Sign in to Triage"
