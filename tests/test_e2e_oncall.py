"""End to end in headless Chromium: on-call pastes an error, opens a result, sees what mitigated it."""

import pytest
from django.utils import timezone

from labeling.actions import embed_incidents
from labeling.models import Decision, Option
from tests.browser import log_in, screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_oncall_finds_a_past_incident_and_its_mitigation(page, make_incident, taxonomy, olga):
    past = make_incident(
        title="CUDA out of memory on the 70B replicas during a traffic burst",
        postmortem="torch.cuda.OutOfMemoryError: CUDA out of memory while allocating the KV cache.",
    )
    make_incident(title="Billing page shows wrong invoice totals", postmortem="A currency rounding bug.")
    for key in ("resource_exhaustion", "traffic_routing"):
        option = Option.objects.get(dimension__taxonomy=taxonomy, key=key)
        Decision.objects.create(incident=past, dimension=option.dimension, option=option, decided_at=timezone.now())
    embed_incidents([incident.pk for incident in type(past).objects.all()])
    log_in(page, "olga", PASSWORD)
    page.goto("/label/similar/")
    # when: typing, no submit: results arrive as they type
    page.fill("#id_q", "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB")
    first = page.locator("#similar-results .result").first
    first.wait_for()
    screenshot(page, "similar-search")
    # then the best match is the past incident, with its mitigation
    assert "CUDA out of memory on the 70B replicas" in first.inner_text()
    assert "Traffic routing" in first.inner_text()
    with page.expect_navigation():
        first.locator("a.result-title").click()
    page.wait_for_selector("#labels h3")
    assert "Traffic routing" in page.locator("#labels").inner_text()
