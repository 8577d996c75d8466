"""Script injection, end to end in headless Chromium: hostile text in, no script runs anywhere it shows.

The payloads go in through every door text has: the incident upload page (file name,
fields, rejected rows whose errors quote the value), the REST API (create, timeline
entry, update), and HTML forms (taxonomy import, option rename, token name, searches,
labeling). Then every page that shows that text is opened; an init script defines
`__xss()`, which each payload calls, so any payload that runs is recorded. A page passes
when nothing was recorded, no dialog opened, the DOM holds no event-handler attribute,
no javascript: URL and no inline script, and the payload shows as text.
"""

import json

import pytest
from django.core.management import call_command

from incidents.models import ImportBatch, Incident
from labeling.models import Decision, Taxonomy
from tests.browser import log_in, screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each breaks out of text, of a double- or single-quoted attribute, or of a tag, and calls __xss.
EVIL = "\"'><script>__xss(1)</script><img src=x onerror=__xss(2)><svg onload=__xss(3)>"
# File names cannot hold a slash, so no closing tags here.
EVIL_FILE_NAME = "\"'><img src=x onerror=__xss(4)><svg onload=__xss(5)>.jsonl"
EVIL_MARKDOWN = (
    f"## Root cause {EVIL}\n\n{EVIL}\n\n[the runbook](javascript:__xss(6))\n\n"
    '<a href="javascript:__xss(7)">raw link</a>\n\n<iframe src="javascript:__xss(8)"></iframe>\n\n'
    '<img src=x onerror="__xss(9)">\n\n![chart](javascript:__xss(10))'
)

RECORD_HITS = "window.__xssHits = []; window.__xss = (n) => window.__xssHits.push(n);"
# Anything a payload could have left in the DOM: handlers, javascript: URLs, inline scripts.
FIND_INJECTED = """() => {
  const found = [];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      if (attribute.name.startsWith("on")) found.push(`${element.tagName} ${attribute.name}`);
      if (/^\\s*javascript:/i.test(attribute.value)) found.push(`${element.tagName} ${attribute.value}`);
    }
  }
  for (const script of document.scripts) {
    if (!script.src && script.type !== "application/json") found.push(`script ${script.textContent.slice(0, 80)}`);
  }
  return found;
}"""


def _incident(external_id, title, **fields):
    return {
        "source": "xss",
        "external_id": external_id,
        "title": title,
        "summary": EVIL,
        "postmortem": EVIL_MARKDOWN,
        "severity": 1,
        "status": "resolved",
        "service": f"chat {EVIL}",
        "model_name": EVIL,
        "region": "us-east-1",
        "endpoint": EVIL,
        "started_at": "2025-03-01T10:00:00Z",
        "mitigated_at": "2025-03-01T10:40:00Z",
        "tags": [EVIL],
        "customer_impact": EVIL,
        **fields,
    }


@pytest.fixture
def api(browser, live_server):
    """HTTP without the browser's session cookie, so the API sees the token alone."""
    context = browser.new_context(base_url=live_server.url)
    yield context.request
    context.close()


@pytest.fixture
def guarded(browser, live_server):
    """A page that records any payload that runs and any dialog that opens."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 1000})
    context.add_init_script(RECORD_HITS)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def assert_nothing_ran(page, shows_payload=True):
    page.wait_for_load_state("networkidle")
    where = page.url
    assert page.evaluate("window.__xssHits") == [], f"a payload ran on {where}"
    assert page.dialogs == [], f"a dialog opened on {where}"
    assert page.evaluate(FIND_INJECTED) == [], f"injected markup on {where}"
    if shows_payload:
        text = page.inner_text("body")
        assert "<script>__xss(1)</script>" in text or "onerror=__xss(4)" in text, f"no payload shown as text on {where}"


def _upload_incidents(page):
    """(a) The upload page: a file with a hostile name, a good row and two rejected rows."""
    update = {"stage": "identified", "posted_at": "2025-03-01T10:05:00Z", "body": EVIL}
    rows = [
        _incident("imported", f"Imported {EVIL}", updates=[update]),
        {**_incident("bad-severity", "Bad"), "severity": EVIL},
        {**_incident("bad-status", "Bad"), "status": EVIL},
    ]
    content = "".join(json.dumps(row) + "\n" for row in rows).encode()
    page.goto("/incidents/import/")
    page.set_input_files("#id_file", {"name": EVIL_FILE_NAME, "mimeType": "application/jsonl", "buffer": content})
    page.select_option("#id_format", "jsonl")
    with page.expect_navigation(url="**/incidents/import/*/"):
        page.click("[data-upload-button]")
    page.wait_for_selector("text=Rejected rows")
    assert ImportBatch.objects.get().rejected == 2
    assert_nothing_ran(page)
    screenshot(page, "xss-import-batch")


def _write_through_the_api(api, token):
    """(b) The REST API: create an incident, add a timeline entry, change a field."""
    headers = {"Authorization": f"Token {token}"}
    created = api.post("/api/incidents/", headers=headers, data=_incident("api", f"From the API {EVIL}"))
    assert created.status == 201, created.text()
    incident_id = created.json()["id"]
    entry = {"incident": incident_id, "stage": "identified", "posted_at": "2025-03-01T10:06:00Z", "body": EVIL}
    assert api.post("/api/incident-updates/", headers=headers, data=entry).status == 201
    patched = api.patch(f"/api/incidents/{incident_id}/", headers=headers, data={"summary": f"Now {EVIL}"})
    assert patched.status == 200, patched.text()
    return Incident.objects.get(pk=incident_id)


def _import_taxonomy(page):
    """(c) The taxonomy import form: names and descriptions of every level."""
    option = {"key": "hostile", "name": f"Option {EVIL}", "description": EVIL}
    child = {"key": "hostile-child", "name": f"Child {EVIL}", "description": EVIL}
    spec = {
        "key": "xss-tax",
        "name": f"Taxonomy {EVIL}",
        "description": EVIL,
        "dimensions": [{"key": "cause", "name": f"Cause {EVIL}", "options": [{**option, "children": [child]}]}],
    }
    page.goto("/label/taxonomies/import/")
    upload = {"name": "xss.json", "mimeType": "application/json", "buffer": json.dumps(spec).encode()}
    page.set_input_files("#id_file", upload)
    with page.expect_navigation(url="**/label/taxonomies/xss-tax/"):
        page.click("main button[type=submit]")
    assert_nothing_ran(page)
    screenshot(page, "xss-taxonomy")


def _rename_option(page):
    """(c) The option-change form: the default taxonomy's engine category gets a hostile name."""
    page.goto("/label/taxonomies/llm-incidents/")
    page.select_option("#id_option", "category/inference_engine")
    page.select_option("#id_change", "rename")
    page.fill("#id_new_name", f"Engine {EVIL}")
    with page.expect_navigation():
        page.click("text=Make the new version")
    assert_nothing_ran(page)


def _create_token(page):
    """(c) The tokens form: a hostile token name; returns the key, for the API writes."""
    page.goto("/accounts/tokens/")
    page.fill("#id_name", EVIL[:100])
    with page.expect_navigation():
        page.click("text=Create token")
    assert_nothing_ran(page)
    return page.inner_text("#new-token").strip()


def _label(page, taxonomy_key, incident, *option_keys):
    """(c) The labeling screen: the incident's hostile text and options, then save a value.

    Several keys pick a category, then one of its subcategories (shown once it is picked).
    """
    page.goto(f"/label/{taxonomy_key}/?incident={incident.pk}")
    page.wait_for_selector("#label-form fieldset.dimension.active")
    assert_nothing_ran(page)
    for key in option_keys:
        page.check(f"#label-form input[value='{key}']")
    with page.expect_navigation():
        page.click("#label-form button.primary")
    assert_nothing_ran(page, shows_payload=False)


def test_hostile_text_shows_as_text_and_never_runs(guarded, api, eager_tasks, taxonomy, adam):
    page = guarded
    log_in(page, "adam", PASSWORD)
    # given: hostile text through every door
    _upload_incidents(page)
    imported = Incident.objects.get(external_id="imported")
    from_api = _write_through_the_api(api, _create_token(page))
    _import_taxonomy(page)
    _rename_option(page)
    Taxonomy.objects.filter(active=True).update(double_label_share=0)
    _label(page, "llm-incidents", imported, "inference_engine")
    _label(page, "llm-incidents", from_api, "inference_engine")
    _label(page, "xss-tax", from_api, "hostile", "hostile-child")
    assert Decision.objects.filter(option__key="inference_engine").count() == 2
    call_command("refresh_dashboards")
    # then: no page that shows it runs it
    page.goto("/incidents/")
    assert_nothing_ran(page)
    page.fill("#id_q", EVIL)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert_nothing_ran(page)
    screenshot(page, "xss-incident-list")
    for incident in (imported, from_api):
        page.goto(incident.get_absolute_url())
        page.wait_for_selector("#labels h3")
        page.wait_for_selector("#similar .result")
        assert_nothing_ran(page)
        assert page.locator(".prose a", has_text="the runbook").get_attribute("href") is None
    screenshot(page, "xss-incident-detail")
    page.goto("/label/similar/")
    page.fill("#id_q", EVIL)
    page.locator("#similar-results .result").first.wait_for()
    assert_nothing_ran(page)
    for path in ("/label/", "/label/taxonomies/llm-incidents/", "/accounts/audit/", "/incidents/import/"):
        page.goto(path)
        assert_nothing_ran(page)
    page.goto("/dashboards/")
    assert_nothing_ran(page, shows_payload=False)
    page.goto("/dashboards/engine/")
    assert_nothing_ran(page, shows_payload=False)  # the payload is a legend entry: SVG text, not page text
    assert "<script>__xss(1)</script>" in page.locator(".chart .legend").first.text_content()
    screenshot(page, "xss-dashboard")
    page.goto("/dashboards/incidents/?dimension=category&option=inference_engine&month=2025-03")
    assert_nothing_ran(page)
