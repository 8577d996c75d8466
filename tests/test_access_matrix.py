"""Every URL against an explicit table of who may use it (PRODUCT.md §6).

A URL pattern without a row here fails `test_every_url_has_a_row`: a new page or endpoint
must say who may open it before it ships.
"""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import ApiToken
from analytics.dashboards import DASHBOARDS
from incidents.models import ImportBatch

ANYONE = "anyone"  # no login needed
SIGNED_IN = {"alice", "olga", "maria", "adam", "charlie"}
READERS = {"alice", "olga", "maria", "adam"}
ANALYSTS = {"alice", "adam"}
MANAGERS = {"maria", "adam"}
ADMINS = {"adam"}
ACTORS = ["anonymous", "alice", "olga", "maria", "adam", "charlie"]

# name -> [(method, url arguments, who may)]; arguments name fixtures built in `objects`.
ACCESS = {
    "home": [("get", (), SIGNED_IN)],  # a redirect to the incidents list, which checks the role
    "accounts:login": [("get", (), ANYONE)],
    "accounts:logout": [("post", (), ANYONE)],  # its success is a redirect to the login page
    "accounts:tokens": [("get", (), SIGNED_IN)],
    "accounts:revoke-token": [("post", ("token",), SIGNED_IN)],  # others' tokens: 404
    "accounts:audit": [("get", (), ADMINS)],
    "accounts:audit-csv": [("get", (), ADMINS)],
    "incidents:list": [("get", (), READERS)],
    "incidents:detail": [("get", ("incident",), READERS)],
    "incidents:export": [("get", (), MANAGERS)],
    "incidents:import": [("get", (), ADMINS)],
    "incidents:import-batch": [("get", ("batch",), ADMINS)],
    "labeling:home": [("get", (), ANALYSTS)],
    "labeling:health": [("get", (), ADMINS)],
    "labeling:similar": [("get", (), READERS)],
    "labeling:similarity-feedback": [("post", (), READERS)],
    "labeling:incident-similar": [("get", ("incident",), READERS)],
    "labeling:incident-labels": [("get", ("incident",), READERS)],
    "labeling:taxonomy-upload": [("get", (), ADMINS)],
    "labeling:taxonomy": [("get", ("taxonomy",), ADMINS)],
    "labeling:taxonomy-change": [("post", ("taxonomy",), ADMINS)],
    "labeling:taxonomy-export": [("get", ("taxonomy",), {"alice", "maria", "adam"})],
    "labeling:screen": [("get", ("taxonomy",), ANALYSTS)],
    "labeling:adjudication": [("get", ("taxonomy",), ADMINS)],
    "labeling:agreement": [("get", ("taxonomy",), {"alice", "maria", "adam"})],
    "labeling:adjudicate": [("post", ("taxonomy", "incident"), ADMINS)],
    "labeling:save": [("post", ("taxonomy", "incident"), ANALYSTS)],
    "labeling:skip": [("post", ("taxonomy", "incident"), ANALYSTS)],
    "labeling:unskip": [("post", ("taxonomy",), ANALYSTS)],
    "labeling:bulk-apply": [("get", ("taxonomy", "incident"), ANALYSTS)],
    "analytics:overview": [("get", (), {"alice", "maria", "adam"})],
    "analytics:incidents": [("get", (), MANAGERS)],
    "analytics:dashboard": [("get", ("detection",), MANAGERS), ("get", ("labeling",), {"alice", "maria", "adam"})],
    "analytics:chart-csv": [("get", ("detection", "detection_chart"), MANAGERS)],
    "api:schema": [("get", (), SIGNED_IN)],
    "api:docs": [("get", (), SIGNED_IN)],
    "api:labeling-api:incident-similar": [("get", ("incident",), READERS)],
    "api:labeling-api:similar": [("get", (), READERS)],
    "api:labeling-api:similarity-feedback": [("post", (), READERS)],
    "api:incidents-api:incident-list": [("get", (), READERS), ("post", (), ADMINS)],
    "api:incidents-api:incident-detail": [("get", ("incident",), READERS), ("delete", ("incident",), ADMINS)],
    "api:incidents-api:incidentupdate-list": [("get", (), READERS), ("post", (), ADMINS)],
    "api:incidents-api:incidentupdate-detail": [("get", ("update",), READERS)],
    "api:incidents-api:importbatch-list": [("get", (), ADMINS)],
    "api:incidents-api:importbatch-detail": [("get", ("batch",), ADMINS)],
    "api:analytics-summary": [("get", (), MANAGERS)],
}


def _url_names(patterns, namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            joined = f"{namespace}:{inner}" if namespace and inner else inner or namespace
            if joined != "admin":  # Django's admin checks is_staff itself
                yield from _url_names(pattern.url_patterns, joined)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_has_a_row():
    missing = sorted(set(_url_names(get_resolver().url_patterns)) - set(ACCESS))
    assert missing == [], f"add these URLs to ACCESS with who may use them: {missing}"


@pytest.fixture
def objects(make_incident, taxonomy, olga):
    incident = make_incident(updates=[("investigating", 1, "Looking.")])
    return {
        "incident": incident.pk,
        "update": incident.updates.get().pk,
        "taxonomy": taxonomy.key,
        "batch": ImportBatch.objects.create(file_name="x.jsonl", format="jsonl").pk,
        "token": ApiToken.issue(olga, "script")[0].pk,
        "detection": "detection",
        "labeling": "labeling",
        "detection_chart": DASHBOARDS["detection"].charts[0].key,
    }


CASES = [(name, method, arguments, allowed) for name, rows in ACCESS.items() for method, arguments, allowed in rows]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "method", "arguments", "allowed"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_who_may_use_each_url(request, client, objects, actor, name, method, arguments, allowed):
    if actor != "anonymous":
        client.force_login(request.getfixturevalue(actor))
    url = reverse(name, args=[objects[argument] for argument in arguments])
    response = getattr(client, method)(url)
    sent_to_login = response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    denied = response.status_code in {401, 403} or (sent_to_login and name != "accounts:logout")
    may = allowed == ANYONE or (actor != "anonymous" and actor in allowed)
    assert denied is not may, f"{actor} {method.upper()} {url}: {response.status_code}"
    assert response.status_code < 500


WRITES = [case for case in CASES if case[1] in {"post", "put", "patch", "delete"}]


@pytest.mark.parametrize(("name", "method", "arguments", "allowed"), WRITES, ids=[f"{c[0]}-{c[1]}" for c in WRITES])
def test_every_write_needs_a_csrf_token_in_a_browser_session(adam, objects, name, method, arguments, allowed):
    # given an admin signed in with a session cookie, as a browser is, but no CSRF token
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(adam)
    url = reverse(name, args=[objects[argument] for argument in arguments])
    # when
    response = getattr(browser, method)(url)
    # then a forged cross-site request is refused
    assert response.status_code == 403, f"{method.upper()} {url}: {response.status_code}"


TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
_POST_FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.DOTALL | re.IGNORECASE)


def test_every_post_form_in_the_templates_carries_the_csrf_token():
    forms = [
        (path.relative_to(TEMPLATES_DIR), body)
        for path in TEMPLATES_DIR.rglob("*.html")
        for body in _POST_FORM.findall(path.read_text())
    ]
    assert forms, "no POST form found: the pattern no longer matches the templates"
    missing = [str(path) for path, body in forms if "{% csrf_token %}" not in body]
    assert missing == []
