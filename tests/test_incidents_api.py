"""The incidents API: incidents, their timelines and import batches under /api/."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, AuditEvent
from incidents import imports
from incidents.models import ImportBatch, Incident, IncidentUpdate
from labeling.actions import save_annotation
from labeling.models import Decision, Option

FIXTURES = Path(__file__).parent / "fixtures"
READERS = ["alice", "olga", "maria", "adam"]
NOT_ADMINS = ["alice", "olga", "maria", "charlie"]


def url(name, *args):
    return reverse(f"api:incidents-api:{name}", args=args)


@pytest.fixture
def as_actor(request, client, db):
    """A client logged in as the named actor; 'anonymous' stays logged out."""

    def log_in(actor):
        if actor != "anonymous":
            client.force_login(request.getfixturevalue(actor))
        return client

    return log_in


@pytest.fixture
def incident(make_incident):
    return make_incident(
        external_id="INC-7", title="KV cache exhaustion", updates=[("investigating", 3, "Errors are elevated.")]
    )


@pytest.fixture
def batch(db):
    return imports.create_import_batch(file_name="a.jsonl", content=b"{}", fmt="jsonl")


def new_incident(**fields):
    started = timezone.now() - timedelta(days=1)
    return {
        "source": "api",
        "external_id": "API-1",
        "title": "Embeddings endpoint returns 502",
        "severity": 1,
        "status": "identified",
        "started_at": started.isoformat(),
        "detected_at": (started + timedelta(minutes=9)).isoformat(),
        "tags": ["lb"],
        **fields,
    }


# The permission matrix: every endpoint, anonymous, each role and the outsider.


def read_requests(incident, batch):
    update = incident.updates.get()
    return {
        "incident-list": url("incident-list"),
        "incident-detail": url("incident-detail", incident.pk),
        "incidentupdate-list": url("incidentupdate-list"),
        "incidentupdate-detail": url("incidentupdate-detail", update.pk),
    }


@pytest.mark.parametrize(
    "endpoint", ["incident-list", "incident-detail", "incidentupdate-list", "incidentupdate-detail"]
)
@pytest.mark.parametrize(
    ("actor", "status"), [("anonymous", 403), ("charlie", 403)] + [(actor, 200) for actor in READERS]
)
def test_every_role_reads_incidents_and_timelines(as_actor, incident, batch, endpoint, actor, status):
    response = as_actor(actor).get(read_requests(incident, batch)[endpoint])
    assert response.status_code == status


@pytest.mark.parametrize("actor", ["anonymous", *NOT_ADMINS])
def test_only_admins_write_incidents(as_actor, incident, actor):
    client = as_actor(actor)
    responses = [
        client.post(url("incident-list"), new_incident(), content_type="application/json"),
        client.patch(url("incident-detail", incident.pk), {"title": "Changed"}, content_type="application/json"),
        client.put(url("incident-detail", incident.pk), new_incident(), content_type="application/json"),
        client.delete(url("incident-detail", incident.pk)),
    ]
    assert [response.status_code for response in responses] == [403, 403, 403, 403]
    assert list(Incident.objects.values_list("title", flat=True)) == ["KV cache exhaustion"]


@pytest.mark.parametrize("actor", ["anonymous", *NOT_ADMINS])
def test_only_admins_write_timelines(as_actor, incident, actor):
    client = as_actor(actor)
    update = incident.updates.get()
    body = {"incident": incident.pk, "stage": "resolved", "posted_at": timezone.now().isoformat(), "body": "Done."}
    responses = [
        client.post(url("incidentupdate-list"), body, content_type="application/json"),
        client.patch(url("incidentupdate-detail", update.pk), {"body": "x"}, content_type="application/json"),
        client.delete(url("incidentupdate-detail", update.pk)),
    ]
    assert [response.status_code for response in responses] == [403, 403, 403]
    assert list(IncidentUpdate.objects.values_list("body", flat=True)) == ["Errors are elevated."]


@pytest.mark.parametrize("actor", ["anonymous", *NOT_ADMINS])
def test_only_admins_see_and_start_imports(as_actor, batch, actor):
    client = as_actor(actor)
    upload = SimpleUploadedFile("a.jsonl", (FIXTURES / "incidents_sample.jsonl").read_bytes())
    responses = [
        client.get(url("importbatch-list")),
        client.get(url("importbatch-detail", batch.pk)),
        client.post(url("importbatch-list"), {"file": upload, "format": "jsonl"}),
    ]
    assert [response.status_code for response in responses] == [403, 403, 403]
    assert ImportBatch.objects.count() == 1


@pytest.mark.parametrize(("actor", "status"), [("anonymous", 403), ("olga", 200)])
def test_schema_and_docs_need_a_login(as_actor, actor, status):
    client = as_actor(actor)
    schema = client.get(reverse("api:schema"))
    assert schema.status_code == status
    assert client.get(reverse("api:docs")).status_code == status
    if status == 200:
        paths = schema.content.decode()
        for path in ("/api/incidents/", "/api/incidents/{id}/", "/api/incident-updates/", "/api/import-batches/"):
            assert path in paths


def test_token_authentication(client, olga, incident):
    _, key = ApiToken.issue(olga, "script")
    response = client.get(url("incident-list"), headers={"Authorization": f"Token {key}"})
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert client.get(url("incident-list"), headers={"Authorization": "Token wrong"}).status_code in {401, 403}


# Incidents: reads


def test_incident_detail_has_the_api_field_names_and_its_timeline(login, olga, incident):
    data = login(olga).get(url("incident-detail", incident.pk)).json()
    assert list(data) == [
        "id", "url", "source", "external_id", "title", "summary", "postmortem", "severity", "status", "service",
        "model_name", "modality", "region", "endpoint", "started_at", "detected_at", "mitigated_at", "resolved_at",
        "tags", "customer_impact", "ttd_minutes", "ttm_minutes", "ttr_minutes", "updates", "created_at", "updated_at",
    ]  # fmt: skip
    assert (data["external_id"], data["ttd_minutes"], data["ttm_minutes"], data["ttr_minutes"]) == (
        "INC-7", 4.0, 40.0, 120.0
    )  # fmt: skip
    assert [update["body"] for update in data["updates"]] == ["Errors are elevated."]
    assert data["url"] == f"http://testserver{url('incident-detail', incident.pk)}"


def test_list_filters_are_the_pages_filters(login, olga, make_incident):
    now = timezone.now()
    make_incident(external_id="OLD", service="chat-api", severity=1, started_at=now - timedelta(days=40))
    make_incident(external_id="NEW", service="chat-api", severity=1, status="monitoring", source="openai")
    make_incident(external_id="EMB", service="embeddings-api", severity=3, modality="embedding")
    client = login(olga)

    def ids(**params):
        return sorted(item["external_id"] for item in client.get(url("incident-list"), params).json()["results"])

    assert ids(service="chat-api") == ["NEW", "OLD"]
    assert ids(severity=[1, 3]) == ["EMB", "NEW", "OLD"]
    assert ids(severity=3) == ["EMB"]
    assert ids(status="monitoring") == ["NEW"]
    assert ids(source="openai") == ["NEW"]
    assert ids(modality="embedding") == ["EMB"]
    assert ids(started_before=(now - timedelta(days=30)).date().isoformat()) == ["OLD"]
    assert ids(started_after=(now - timedelta(days=30)).date().isoformat(), service="chat-api") == ["NEW"]


def test_bad_filter_value_is_a_400_naming_the_filter(login, olga, incident):
    response = login(olga).get(url("incident-list"), {"severity": 9, "started_after": "soon"})
    assert response.status_code == 400
    assert set(response.json()) == {"severity", "started_after"}


@pytest.mark.parametrize("parameter", ["search", "q"])
def test_search_ranks_title_matches_above_timeline_matches(login, olga, make_incident, parameter):
    make_incident(external_id="TIMELINE", title="Degraded completions", updates=[("identified", 5, "NCCL timeout")])
    make_incident(external_id="TITLE", title="NCCL hang stalls all GPUs")
    make_incident(external_id="OTHER", title="Login page broken")
    results = login(olga).get(url("incident-list"), {parameter: "nccl"}).json()["results"]
    assert [item["external_id"] for item in results] == ["TITLE", "TIMELINE"]


def test_list_is_paginated(login, olga, make_incident):
    for _ in range(7):
        make_incident()
    client = login(olga)
    first = client.get(url("incident-list"), {"page_size": 5}).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (7, 5, None)
    second = client.get(first["next"]).json()
    assert (len(second["results"]), second["next"]) == (2, None)
    assert client.get(url("incident-list"), {"page": 9}).status_code == 404
    assert len(client.get(url("incident-list"), {"page_size": 10_000}).json()["results"]) == 7


def test_list_queries_do_not_grow_with_the_page(login, olga, make_incident, django_assert_max_num_queries):
    for _ in range(55):
        make_incident(updates=[("investigating", 1, "Looking."), ("resolved", 30, "Fixed.")])
    client = login(olga)
    with django_assert_max_num_queries(6):
        response = client.get(url("incident-list"))
    assert len(response.json()["results"]) == 50
    assert len(response.json()["results"][0]["updates"]) == 2


# Incidents: writes


def test_admin_creates_an_incident_that_search_finds(login, adam):
    client = login(adam)
    response = client.post(url("incident-list"), new_incident(), content_type="application/json")
    assert response.status_code == 201
    incident = Incident.objects.get(external_id="API-1")
    assert (incident.title, incident.severity, incident.tags) == ("Embeddings endpoint returns 502", 1, ["lb"])
    assert response.json()["ttd_minutes"] == 9.0
    found = client.get(url("incident-list"), {"search": "502"}).json()["results"]
    assert [item["id"] for item in found] == [incident.pk]


@pytest.mark.parametrize(("resolved", "status"), [(True, "resolved"), (False, "investigating")])
def test_an_incident_created_without_a_status_gets_the_one_an_import_gives(login, adam, resolved, status):
    started = timezone.now() - timedelta(days=1)
    row = {key: value for key, value in new_incident().items() if key != "status"}
    if resolved:
        row["resolved_at"] = (started + timedelta(hours=2)).isoformat()
    imports.import_file(file_name="one.jsonl", content=json.dumps(row).encode(), fmt="jsonl")
    response = login(adam).post(url("incident-list"), {**row, "external_id": "API-2"}, content_type="application/json")
    assert response.status_code == 201
    imported, created = Incident.objects.get(external_id="API-1"), Incident.objects.get(external_id="API-2")
    assert (created.status, imported.status) == (status, status)


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"detected_at": "2000-01-01T00:00:00Z"}, {"detected_at"}),
        ({"severity": 5}, {"severity"}),
        ({"title": "  "}, {"title"}),
        ({"status": "exploded", "modality": "smell"}, {"status", "modality"}),
        ({"started_at": "not a date"}, {"started_at"}),
        ({"summary": "x" * 100_001}, {"summary"}),
        ({"title": "nul\u0000"}, {"title"}),
    ],
)
def test_create_refuses_bad_values_naming_the_field(login, adam, fields, errors):
    response = login(adam).post(url("incident-list"), new_incident(**fields), content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == errors
    assert not Incident.objects.exists()


def test_create_refuses_a_second_incident_with_the_same_source_and_id(login, adam, make_incident):
    make_incident(source="api", external_id="API-1")
    response = login(adam).post(url("incident-list"), new_incident(), content_type="application/json")
    assert response.status_code == 400
    assert Incident.objects.count() == 1


def test_admin_updates_an_incident_and_the_next_import_rewrites_it(login, adam, tmp_path):
    # given an imported incident
    imports.import_file(file_name="a.jsonl", content=(FIXTURES / "incidents_sample.jsonl").read_bytes(), fmt="jsonl")
    incident = Incident.objects.get(external_id="INC-2")
    # when an admin edits it
    response = login(adam).patch(
        url("incident-detail", incident.pk),
        {"title": "Embeddings have 768 not 1024 dims"},
        content_type="application/json",
    )
    # then the search document follows and the import hash is cleared
    assert response.status_code == 200
    incident.refresh_from_db()
    assert (incident.title, incident.content_hash) == ("Embeddings have 768 not 1024 dims", "")
    assert Incident.objects.filter(search_document="768").get() == incident
    batch = imports.import_file(
        file_name="a.jsonl", content=(FIXTURES / "incidents_sample.jsonl").read_bytes(), fmt="jsonl"
    )
    assert (batch.updated, batch.unchanged) == (1, 2)


def test_patch_refuses_a_time_before_the_stored_start(login, adam, incident):
    before = (incident.started_at - timedelta(hours=1)).isoformat()
    response = login(adam).patch(
        url("incident-detail", incident.pk), {"resolved_at": before}, content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["resolved_at"]


def test_admin_deletes_an_incident_with_its_timeline(login, adam, incident):
    response = login(adam).delete(url("incident-detail", incident.pk))
    assert response.status_code == 204
    assert not Incident.objects.exists()
    assert not IncidentUpdate.objects.exists()


# Timelines


def test_timeline_filters_by_incident(login, olga, incident, make_incident):
    make_incident(updates=[("resolved", 9, "Another one.")])
    data = login(olga).get(url("incidentupdate-list"), {"incident": incident.pk}).json()
    assert [(item["incident"], item["body"]) for item in data["results"]] == [(incident.pk, "Errors are elevated.")]


def test_admin_adds_changes_and_deletes_a_timeline_entry_and_search_follows(login, adam, incident):
    client = login(adam)
    posted = (incident.started_at + timedelta(minutes=50)).isoformat()
    body = {"incident": incident.pk, "stage": "monitoring", "posted_at": posted, "body": "Rolled back the allocator."}
    created = client.post(url("incidentupdate-list"), body, content_type="application/json")
    assert created.status_code == 201
    assert Incident.objects.filter(search_document="allocator").get() == incident
    entry = created.json()["id"]
    changed = client.patch(
        url("incidentupdate-detail", entry), {"body": "Drained the node."}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert not Incident.objects.filter(search_document="allocator").exists()
    assert client.delete(url("incidentupdate-detail", entry)).status_code == 204
    assert list(incident.updates.values_list("body", flat=True)) == ["Errors are elevated."]
    assert not Incident.objects.filter(search_document="drain").exists()


# Import batches


def test_admin_uploads_a_file_and_follows_its_batch(login, adam, django_capture_on_commit_callbacks, eager_tasks):
    client = login(adam)
    upload = SimpleUploadedFile("sample.json", (FIXTURES / "statuspage_sample.json").read_bytes())
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url("importbatch-list"), {"file": upload, "format": "statuspage", "source": "example"})
    assert response.status_code == 202
    batch = ImportBatch.objects.get()
    assert response.json()["status"] == "pending"
    (run_import,) = callbacks  # the import task, queued for after the commit
    run_import()
    assert response["Location"] == f"http://testserver{url('importbatch-detail', batch.pk)}"
    data = client.get(url("importbatch-detail", batch.pk)).json()
    assert (data["status"], data["total"], data["created"], data["rejected"], data["created_by"]) == (
        "done", 5, 3, 2, "adam"
    )  # fmt: skip
    assert data["errors"][1] == {
        "position": "incidents[4]",
        "field": "impact",
        "reason": "'severe' is not one of critical, major, minor, none, maintenance",
    }
    assert "content" not in data
    assert sorted(Incident.objects.values_list("source", "external_id")) == [
        ("example", "ex-001"), ("example", "ex-002"), ("example", "ex-003")
    ]  # fmt: skip
    assert client.get(url("importbatch-list"), {"status": "done"}).json()["count"] == 1


TOO_BIG = "big.jsonl: the file is 11 bytes, above the import limit of 10 bytes (IMPORT_MAX_BYTES)."
TOO_LONG = "Ensure this field has no more than 64 characters."


@pytest.mark.parametrize(
    ("content", "fields", "error"),
    [
        (b"x" * 11, {"format": "jsonl"}, {"file": [TOO_BIG]}),
        (b"", {"format": "jsonl"}, {"file": ["The submitted file is empty."]}),
        (b"{}", {"format": "xml"}, {"format": ['"xml" is not a valid choice.']}),
        (b"{}", {"format": "jsonl", "source": "s" * 65}, {"source": [TOO_LONG]}),
    ],
)  # fmt: skip
def test_upload_refuses_bad_input_with_a_clear_message(login, adam, settings, content, fields, error):
    settings.IMPORT_MAX_BYTES = 10
    upload = SimpleUploadedFile("big.jsonl", content)
    response = login(adam).post(url("importbatch-list"), {"file": upload, **fields})
    assert response.status_code == 400
    assert response.json() == error
    assert not ImportBatch.objects.exists()


# The audit log: every write through the API says who changed what (PRODUCT.md §6).


def audit_events(**filters):
    """Events about incidents, oldest first (the actors' fixtures add `user.created` events)."""
    events = AuditEvent.objects.filter(target_type="incidents.incident", **filters).order_by("id")
    return list(events.values_list("actor__username", "action", "target_type", "target_id", "summary", "changes"))


def test_creating_an_incident_is_audited(login, adam):
    response = login(adam).post(url("incident-list"), new_incident(), content_type="application/json")
    assert response.status_code == 201
    pk = response.json()["id"]
    assert audit_events() == [
        ("adam", "incident.created", "incidents.incident", str(pk), f"incident {pk} created: Embeddings endpoint "
         "returns 502", {"source": "api", "external_id": "API-1"}),
    ]  # fmt: skip


def test_changing_an_incident_audits_old_and_new_values_but_only_names_long_text(login, adam, incident):
    # given a postmortem far too long to copy into the audit log
    postmortem = "The allocator leaked pages until the KV cache was full. " * 1_500
    resolved = incident.started_at + timedelta(hours=3)
    fields = {"title": "KV cache leak", "severity": 1, "postmortem": postmortem, "resolved_at": resolved.isoformat()}
    # when an admin changes it, the title and the resolution time, and sends the severity unchanged
    response = login(adam).patch(url("incident-detail", incident.pk), fields, content_type="application/json")
    # then one event names the changed fields, with old and new values of the short ones
    assert response.status_code == 200
    assert audit_events() == [
        ("adam", "incident.changed", "incidents.incident", str(incident.pk),
         f"incident {incident.pk} changed: title, postmortem, resolved_at",
         {"fields": ["title", "postmortem", "resolved_at"],
          "old": {"title": "KV cache exhaustion", "resolved_at": incident.resolved_at.isoformat()},
          "new": {"title": "KV cache leak", "resolved_at": resolved.isoformat()}}),
    ]  # fmt: skip
    # and a write that changes nothing adds no event
    login(adam).patch(url("incident-detail", incident.pk), {"title": "KV cache leak"}, content_type="application/json")
    assert len(audit_events()) == 1


def test_deleting_an_incident_audits_the_labels_that_went_with_it(login, adam, alice, bob, taxonomy, incident):
    # given an incident two analysts agreed on
    timeout = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    save_annotation(incident, timeout.dimension, alice, [timeout])
    save_annotation(incident, timeout.dimension, bob, [timeout])
    pk = incident.pk
    # when an admin deletes it
    response = login(adam).delete(url("incident-detail", pk))
    # then its labels are gone, and the audit log says how many
    assert response.status_code == 204
    assert not Decision.objects.filter(incident_id=pk).exists()
    assert audit_events(action="incident.deleted") == [
        ("adam", "incident.deleted", "incidents.incident", str(pk),
         f"incident {pk} deleted (KV cache exhaustion) with 2 annotations, 1 decisions and 1 timeline entries",
         {"source": "test", "external_id": "INC-7", "title": "KV cache exhaustion",
          "annotations": 2, "decisions": 1, "timeline_entries": 1}),
    ]  # fmt: skip


def test_timeline_writes_are_audited_on_their_incident(login, adam, incident, make_incident):
    client = login(adam)
    other = make_incident()
    posted = (incident.started_at + timedelta(minutes=50)).isoformat()
    body = {"incident": incident.pk, "stage": "monitoring", "posted_at": posted, "body": "Rolled back the allocator."}
    entry = client.post(url("incidentupdate-list"), body, content_type="application/json").json()["id"]
    moved = {"incident": other.pk, "stage": "resolved", "body": "Drained the node."}
    assert client.patch(url("incidentupdate-detail", entry), moved, content_type="application/json").status_code == 200
    assert client.delete(url("incidentupdate-detail", entry)).status_code == 204
    assert audit_events() == [
        ("adam", "timeline_entry.added", "incidents.incident", str(incident.pk),
         f"timeline entry {entry} (monitoring) added to incident {incident.pk}",
         {"entry": entry, "stage": "monitoring", "posted_at": posted}),
        ("adam", "timeline_entry.changed", "incidents.incident", str(other.pk),
         f"timeline entry {entry} of incident {other.pk} changed: incident, stage, body",
         {"entry": entry, "fields": ["incident", "stage", "body"],
          "old": {"incident": incident.pk, "stage": "monitoring"}, "new": {"incident": other.pk, "stage": "resolved"}}),
        ("adam", "timeline_entry.deleted", "incidents.incident", str(other.pk),
         f"timeline entry {entry} (resolved) deleted from incident {other.pk}",
         {"entry": entry, "stage": "resolved", "posted_at": posted}),
    ]  # fmt: skip


def test_refused_writes_are_not_audited(login, alice, adam, incident):
    assert login(alice).delete(url("incident-detail", incident.pk)).status_code == 403
    bad = login(adam).patch(url("incident-detail", incident.pk), {"severity": 9}, content_type="application/json")
    assert bad.status_code == 400
    assert audit_events() == []
