"""Importing incidents: the command, the batch job and its task, the upload page."""

import json
import random
import string
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from incidents import imports, tasks
from incidents.actions import refresh_search_documents
from incidents.importers import read_records
from incidents.models import ImportBatch, Incident, IncidentUpdate
from tests.browser import log_in, screenshot
from tests.conftest import PASSWORD

FIXTURES = Path(__file__).parent / "fixtures"
DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
PROVIDERS = {"openai": 365, "anthropic": 141, "character": 36}

needs_real_data = pytest.mark.skipif(
    not (DATA / "statuspage_openai.json").exists(),
    reason=f"the public status-page data is not at {DATA} (see /work/shared/data/README.md)",
)


def t(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run_command(*args):
    """Call import_incidents; return (stdout, stderr)."""
    out, err = StringIO(), StringIO()
    call_command("import_incidents", *[str(arg) for arg in args], stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_after_commit(callbacks):
    """Run what was queued for after the commit: the import task, eagerly.

    Run outside the capture, so the embeddings the import requests in turn stay queued (the
    worker tests cover those) and the model is not loaded here.
    """
    for callback in callbacks:
        callback()


def snapshot():
    """Everything an import may change, to show a refused file changed nothing."""
    return (
        sorted(Incident.objects.values_list("source", "external_id", "title", "content_hash")),
        sorted(IncidentUpdate.objects.values_list("incident__external_id", "stage", "posted_at", "body")),
    )


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


# The real status-page data (542 incidents of three providers)


@pytest.fixture
def real_data_imported(db):
    outputs = {}
    for provider in PROVIDERS:
        outputs[provider] = run_command(
            DATA / f"statuspage_{provider}.json", "--format=statuspage", "--source", provider
        )
    return outputs


@needs_real_data
def test_real_data_imports_every_incident_of_every_provider(real_data_imported):
    for provider, count in PROVIDERS.items():
        out, err = real_data_imported[provider]
        assert out.startswith(
            f"{DATA / f'statuspage_{provider}.json'}: {count} created, 0 updated, 0 unchanged, 0 rejected"
        )
        assert err == ""
        assert Incident.objects.filter(source=provider).count() == count
    assert Incident.objects.count() == 542
    assert IncidentUpdate.objects.count() == 1452
    assert not Incident.objects.filter(search_document__isnull=True).exists()


@needs_real_data
def test_real_data_imported_twice_adds_nothing(real_data_imported):
    before = snapshot()
    for provider, count in PROVIDERS.items():
        out, _ = run_command(DATA / f"statuspage_{provider}.json", "--format=statuspage", "--source", provider)
        assert f": 0 created, 0 updated, {count} unchanged, 0 rejected" in out
    assert snapshot() == before
    assert ImportBatch.objects.filter(status="done").count() == 6


@needs_real_data
def test_real_data_hand_checked_postmortem_incident(real_data_imported):
    incident = Incident.objects.get(source="openai", external_id="ssg8fh7sfyz3")
    assert incident.title == "Unexpected responses from ChatGPT"
    assert (incident.severity, incident.status, incident.service) == (2, "postmortem", "ChatGPT")
    assert incident.started_at == t("2024-02-20T23:40:00")
    assert incident.detected_at == t("2024-02-20T23:47:00")  # the first identified update
    assert incident.mitigated_at == t("2024-02-21T00:59:00")  # the first monitoring update
    assert incident.resolved_at == t("2024-02-21T07:14:00")
    assert incident.summary == "We are investigating reports of unexpected responses from ChatGPT."
    assert incident.postmortem.startswith("On February 20, 2024, an optimization to the user experience")
    assert list(incident.updates.values_list("stage", "posted_at")) == [
        ("investigating", t("2024-02-20T23:40:00")),
        ("identified", t("2024-02-20T23:47:00")),
        ("monitoring", t("2024-02-21T00:59:00")),
        ("resolved", t("2024-02-21T07:14:00")),
        ("postmortem", t("2024-02-22T01:03:00")),
    ]


@needs_real_data
def test_real_data_hand_checked_critical_outage_without_monitoring(real_data_imported):
    incident = Incident.objects.get(source="openai", external_id="xlqxj2ncx6nh")
    assert incident.severity == 0
    assert incident.service == "Playground, API, Labs, ChatGPT"
    assert incident.tags == ["Playground", "API", "Labs", "ChatGPT"]
    assert incident.detected_at == t("2023-11-12T06:15:00")
    assert incident.mitigated_at == incident.resolved_at == t("2023-11-12T06:44:00")
    assert list(incident.updates.values_list("stage", flat=True)) == ["investigating", "identified", "resolved"]


@needs_real_data
def test_real_data_hand_checked_incidents_of_the_other_providers(real_data_imported):
    # an after-the-fact notice: no components, impact none, a single resolved update
    anthropic = Incident.objects.get(source="anthropic", external_id="tmsczhzhjd63")
    assert (anthropic.severity, anthropic.service, anthropic.detected_at) == (3, "", None)
    assert anthropic.started_at == anthropic.mitigated_at == anthropic.resolved_at == t("2024-02-16T20:35:00")
    assert list(anthropic.updates.values_list("stage", flat=True)) == ["resolved"]
    character = Incident.objects.get(source="character", external_id="pz385w9h3vx7")
    assert (character.title, character.severity, character.service) == ("Unreliable search", 1, "Character.AI")
    assert character.detected_at == character.started_at == t("2024-01-28T00:52:00")
    # the two maintenance notices are the only SEV4
    assert sorted(Incident.objects.filter(severity=4).values_list("external_id", flat=True)) == [
        "lptmw6gj0vdz",
        "swm7xsx0t5j4",
    ]
    assert Incident.objects.filter(source="openai", severity=0).count() == 46


@needs_real_data
def test_real_data_is_never_detected_after_it_was_mitigated(real_data_imported):
    # three OpenAI incidents posted "monitoring" before "identified"
    assert not Incident.objects.filter(detected_at__gt=F("mitigated_at")).exists()


@needs_real_data
def test_real_data_is_searchable_by_its_timeline(real_data_imported, login, olga):
    response = login(olga).get(reverse("incidents:list"), {"q": "unexpected responses", "source": "openai"})
    assert response.context["page"][0].external_id == "ssg8fh7sfyz3"


# Upserts: unchanged, changed, partly bad, unreadable


def test_reimport_of_a_changed_incident_updates_it_and_replaces_its_timeline(db, tmp_path):
    # given
    first = write(tmp_path, "a.jsonl", (FIXTURES / "incidents_sample.jsonl").read_text())
    run_command(first, "--format=jsonl")
    incident = Incident.objects.get(external_id="INC-1")
    # when the title and the timeline change
    changed = (
        (FIXTURES / "incidents_sample.jsonl")
        .read_text()
        .replace('"title": "Chat completions time out"', '"title": "Chat completions time out behind the NCCL bug"')
        .replace('"body": "Looking into timeouts."', '"body": "A bad allreduce hangs."')
    )
    out, _ = run_command(write(tmp_path, "b.jsonl", changed), "--format=jsonl")
    # then
    assert ": 0 created, 1 updated, 2 unchanged, 0 rejected" in out
    incident.refresh_from_db()
    assert incident.title == "Chat completions time out behind the NCCL bug"
    assert incident.pk == Incident.objects.get(external_id="INC-1").pk
    assert list(incident.updates.values_list("body", flat=True)) == ["A bad allreduce hangs.", "All clear."]
    assert IncidentUpdate.objects.count() == 2
    assert list(Incident.objects.filter(search_document="allreduce").values_list("external_id", flat=True)) == ["INC-1"]


def test_imported_search_documents_match_a_fresh_refresh(db, tmp_path):
    run_command(FIXTURES / "statuspage_sample.json", "--format=statuspage")
    imported = dict(Incident.objects.values_list("pk", "search_document"))
    refresh_search_documents(imported)
    assert dict(Incident.objects.values_list("pk", "search_document")) == imported


def test_partly_bad_file_keeps_the_good_rows_and_lists_the_bad(db):
    out, err = run_command(FIXTURES / "incidents_partly_bad.jsonl", "--format=jsonl")
    path = FIXTURES / "incidents_partly_bad.jsonl"
    assert sorted(Incident.objects.values_list("external_id", flat=True)) == ["OK-1", "OK-2"]
    assert Incident.objects.get(external_id="OK-1").title == "A good incident"
    assert f"{path}: 2 created, 0 updated, 0 unchanged, 4 rejected" in out
    assert err.splitlines() == [
        f"{path}: line 2, field severity: 7 is not a severity; use 0 (highest) to 4",
        f"{path}: line 3: not valid JSON: Expecting value: line 1 column 82 (char 81)",
        f"{path}: line 4, field started_at: 'yesterday' is not an ISO 8601 date-time such as 2024-05-01T12:30:00Z",
        f"{path}: line 4, field title: is required",
        f"{path}: line 5, field external_id: 'OK-1' of source 'acme' repeats line 1",
    ]
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.total, batch.created, batch.rejected) == ("done", 6, 2, 4)
    assert batch.errors[0] == {
        "position": "line 2",
        "field": "severity",
        "reason": "7 is not a severity; use 0 (highest) to 4",
    }


@pytest.mark.parametrize(
    ("name", "content", "fmt", "reason"),
    [
        ("empty.jsonl", b"", "jsonl", "the file is empty (0 bytes)"),
        ("latin1.jsonl", b'{"title": "caf\xe9"}\n', "jsonl", "line 1, column 15: invalid UTF-8 (byte 0xe9)"),
        ("broken.json", b'{"incidents": [{"id": "a",}]}', "statuspage",
         "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 27 (char 26)"),
        ("short.csv", b"source,external_id,started_at\nacme,A,2024-01-01T00:00:00Z\n", "csv",
         "line 1 (header): missing required column 'title'"),
    ],
)  # fmt: skip
def test_unreadable_file_changes_nothing_and_the_command_fails(make_incident, tmp_path, name, content, fmt, reason):
    # given an incident already there
    make_incident(source="acme", external_id="A", title="Kept as it was")
    before = snapshot()
    path = write(tmp_path, name, content)
    # when
    with pytest.raises(CommandError) as raised:
        run_command(path, f"--format={fmt}", "--source=acme")
    # then
    assert str(raised.value) == f"{path}: {reason}"
    assert snapshot() == before
    # refused at the door (an empty file) or recorded as a failed batch
    assert list(ImportBatch.objects.values_list("status", "failure")) in ([], [("failed", reason)])


def test_command_refuses_a_file_over_the_size_limit(db, tmp_path, settings):
    settings.IMPORT_MAX_BYTES = 100
    path = write(tmp_path, "big.jsonl", "x" * 300_000)
    with pytest.raises(CommandError) as raised:
        run_command(path, "--format=jsonl")
    assert str(raised.value) == f"{path}: the file is 0.3 MB, above the import limit of 100 bytes (IMPORT_MAX_BYTES)"
    assert not ImportBatch.objects.exists()


def test_command_refuses_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError) as raised:
        run_command(tmp_path / "nowhere.jsonl", "--format=jsonl")
    assert str(raised.value) == f"{tmp_path / 'nowhere.jsonl'}: cannot read: No such file or directory"


def jsonl_line(**fields):
    return json.dumps({"source": "acme", "title": "ok", "started_at": "2024-01-01T00:00:00Z", **fields})


@pytest.mark.parametrize(
    ("bad_line", "error"),
    [
        ("[" * 100_000 + "]" * 100_000, {"field": "", "reason": "not valid JSON: nested too deeply"}),
        (jsonl_line(external_id="X", started_at="0001-01-01T00:00:00+01:00"),
         {"field": "started_at",
          "reason": "'0001-01-01T00:00:00+01:00' is out of range once converted to UTC (years 1 to 9999)"}),
        (jsonl_line(external_id="X", **{"\u0000": 1}), {"field": "\\x00", "reason": "unknown field"}),
        (jsonl_line(external_id="X", **{"\ud800": 1}), {"field": "\\ud800", "reason": "unknown field"}),
    ],
)  # fmt: skip
def test_a_row_the_importer_once_crashed_on_is_stored_as_an_error_and_the_rows_after_it_import(
    db, tmp_path, monkeypatch, bad_line, error
):
    # given one row per chunk, the bad row between two good ones
    monkeypatch.setattr(imports, "CHUNK_SIZE", 1)
    content = "\n".join([jsonl_line(external_id="A"), bad_line, jsonl_line(external_id="B")])
    # when
    out, _ = run_command(write(tmp_path, "a.jsonl", content), "--format=jsonl")
    # then
    assert ": 2 created, 0 updated, 0 unchanged, 1 rejected" in out
    assert sorted(Incident.objects.values_list("external_id", flat=True)) == ["A", "B"]
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.errors) == ("done", [{"position": "line 2", **error}])


def test_a_long_timeline_imports_and_is_searchable_by_its_start(db, tmp_path):
    # given ten updates of about 90,000 characters of distinct words: a tsvector of 1.6 MB
    rng = random.Random(1)
    bodies = [" ".join("".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(9_000)) for _ in range(10)]
    bodies[0] = "Kestrel nodes overheated. " + bodies[0]
    bodies[-1] += " Pelican"
    updates = [
        {"stage": "investigating", "posted_at": f"2024-01-01T00:{minute:02d}:00Z", "body": body}
        for minute, body in enumerate(bodies)
    ]
    # when
    out, _ = run_command(write(tmp_path, "long.jsonl", jsonl_line(external_id="L", updates=updates)), "--format=jsonl")
    # then it is imported whole, and found by its first update but not its last
    assert ": 1 created, 0 updated, 0 unchanged, 0 rejected" in out
    assert IncidentUpdate.objects.count() == 10
    assert list(Incident.objects.filter(search_document="kestrel").values_list("external_id", flat=True)) == ["L"]
    assert not Incident.objects.filter(search_document="pelican").exists()


def test_a_file_name_that_is_not_utf8_is_stored_and_shown_with_a_replacement_character(db, tmp_path):
    path = write(tmp_path, "caf\udce9.jsonl", jsonl_line(external_id="A"))  # the bytes b"caf\xe9.jsonl"
    out, _ = run_command(path, "--format=jsonl")
    assert out.startswith(f"{tmp_path}/caf\ufffd.jsonl: 1 created, 0 updated, 0 unchanged, 0 rejected")
    assert list(ImportBatch.objects.values_list("status", "file_name")) == [("done", "caf\ufffd.jsonl")]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("caf\udce9", "contains an unpaired surrogate '\\udce9', not Unicode text"),  # argv bytes, not UTF-8
        ("a\x00b", "contains a NUL character, which cannot be stored"),
    ],
)
def test_command_refuses_a_source_the_database_cannot_store(db, tmp_path, source, reason):
    path = write(tmp_path, "a.jsonl", jsonl_line(external_id="A"))
    with pytest.raises(CommandError) as raised:
        run_command(path, "--format=jsonl", f"--source={source}")
    assert str(raised.value) == f"--source {reason}"
    assert not ImportBatch.objects.exists()


def test_very_long_fields_are_rejected_and_nothing_is_cut(db, tmp_path):
    long_title = "x" * 501
    content = (
        f'{{"source": "acme", "external_id": "L-1", "title": "{long_title}", "started_at": "2024-01-01T00:00:00Z"}}\n'
        f'{{"source": "acme", "external_id": "L-2", "title": "ok", "service": "{"s" * 201}", '
        f'"started_at": "2024-01-01T00:00:00Z"}}\n'
    )
    _, err = run_command(write(tmp_path, "long.jsonl", content), "--format=jsonl")
    assert "line 1, field title: is 501 characters long; at most 500 are allowed" in err
    assert "line 2, field service: is 201 characters long; at most 200 are allowed" in err
    assert not Incident.objects.exists()


# The batch job and its task


def test_async_command_queues_a_batch_that_a_worker_runs_after_commit(
    db, django_capture_on_commit_callbacks, eager_tasks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        out, _ = run_command(FIXTURES / "statuspage_sample.json", "--format=statuspage", "--async")
    batch = ImportBatch.objects.get()
    assert out == f"{FIXTURES / 'statuspage_sample.json'}: queued as import batch #{batch.pk}.\n"
    assert batch.status == "pending"
    assert bytes(batch.content) == (FIXTURES / "statuspage_sample.json").read_bytes()
    assert not Incident.objects.exists()
    # when the transaction commits, the task runs (eagerly here)
    run_after_commit(callbacks)
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.rejected, bytes(batch.content)) == ("done", 3, 2, b"")
    assert Incident.objects.count() == 3


def test_task_run_twice_imports_once(db, eager_tasks):
    batch = imports.create_import_batch(
        file_name="sample.jsonl", content=(FIXTURES / "incidents_sample.jsonl").read_bytes(), fmt="jsonl"
    )
    tasks.run_import_batch.delay(batch.pk)
    tasks.run_import_batch.delay(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.updated, batch.unchanged) == ("done", 3, 0, 0)
    assert Incident.objects.count() == 3


def test_a_running_batch_is_claimed_again_only_when_its_worker_went_quiet(db):
    batch = imports.create_import_batch(file_name="a.jsonl", content=b"{}", fmt="jsonl")
    ImportBatch.objects.filter(pk=batch.pk).update(status="running", heartbeat_at=timezone.now())
    assert imports.claim_import_batch(batch.pk) is False
    ImportBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert imports.claim_import_batch(batch.pk) is True
    assert imports.claim_import_batch(batch.pk) is False


SLOW_LINES = b"".join(
    b'{"source": "t", "external_id": "x%d", "title": "Slow", "started_at": "2025-01-01T00:00:00Z"}\n' % number
    for number in range(3)
)


def stall_at_second_chunk(monkeypatch, sweep):
    """Import one row per chunk; while the second is written, the running batch goes quiet
    past STALE_AFTER and `sweep()` runs on another connection, as another process would.
    Return the chunks the importing worker got to."""
    monkeypatch.setattr(imports, "CHUNK_SIZE", 1)
    upsert, chunks = imports.upsert_records, []

    def elsewhere():
        try:
            stale = timezone.now() - imports.STALE_AFTER - timedelta(minutes=1)
            assert ImportBatch.objects.filter(status="running").update(heartbeat_at=stale) == 1
            sweep()
        finally:
            connection.close()

    def upsert_while_the_sweep_runs(records):
        chunks.append(records)
        if len(chunks) == 2:
            other_process = threading.Thread(target=elsewhere)
            other_process.start()
            other_process.join()
        return upsert(records)

    monkeypatch.setattr(imports, "upsert_records", upsert_while_the_sweep_runs)
    return chunks


def test_a_slow_worker_whose_batch_was_claimed_again_stops_and_leaves_the_counts_to_the_new_claim(
    transactional_db, monkeypatch
):
    # given: another worker claims the batch while this one is stuck in its second chunk
    batch = imports.create_import_batch(file_name="slow.jsonl", content=SLOW_LINES, fmt="jsonl")
    claims = []
    chunks = stall_at_second_chunk(monkeypatch, lambda: claims.append(imports.claim_import_batch(batch.pk)))
    # when
    assert imports.run_import_batch(batch.pk) is None
    # then: it stopped at the chunk after the new claim, rolled that chunk back, and counted
    # nothing into the new claim's figures
    assert claims == [True]
    assert len(chunks) == 2
    batch.refresh_from_db()
    assert (batch.status, batch.created, batch.updated, batch.unchanged) == ("running", 0, 0, 0)
    assert Incident.objects.count() == 1


def test_a_command_import_failed_by_the_sweep_while_stuck_reports_the_failure(transactional_db, monkeypatch):
    # given: a synchronous import (no file kept) that the sweep fails while it is stuck
    def fail_it():
        rerun, failed = imports.find_abandoned_import_batches()
        assert (rerun, len(failed)) == ([], 1)
        imports.fail_abandoned_import_batch(failed[0])

    stall_at_second_chunk(monkeypatch, fail_it)
    # when
    batch = imports.import_file(file_name="slow.jsonl", content=SLOW_LINES, fmt="jsonl")
    # then: the caller gets the failed batch saying why, and the first chunk stays imported
    assert batch.status == "failed"
    assert "import the file again" in batch.failure
    assert batch.created == 1
    assert Incident.objects.count() == 1


def test_upsert_records_counts_created_then_unchanged(db):
    records = list(read_records((FIXTURES / "incidents_sample.jsonl").read_bytes(), "jsonl"))
    with transaction.atomic():
        assert imports.upsert_records(records) == (3, 0, 0)
    with transaction.atomic():
        assert imports.upsert_records(records) == (0, 0, 3)


# The upload page


@pytest.mark.parametrize(
    ("actor", "status"), [("alice", 403), ("olga", 403), ("maria", 403), ("charlie", 403), ("adam", 200)]
)
def test_only_admins_open_the_upload_page(db, request, login, actor, status):
    response = login(request.getfixturevalue(actor)).get(reverse("incidents:import"))
    assert response.status_code == status


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get(reverse("incidents:import"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_upload_creates_a_batch_and_its_page_shows_the_outcome(
    login, adam, django_capture_on_commit_callbacks, eager_tasks
):
    client = login(adam)
    upload = SimpleUploadedFile("partly_bad.jsonl", (FIXTURES / "incidents_partly_bad.jsonl").read_bytes())
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("incidents:import"), {"file": upload, "format": "jsonl", "source": ""})
    run_after_commit(callbacks)
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == batch.get_absolute_url()
    assert (batch.status, batch.created, batch.rejected, batch.created_by) == ("done", 2, 4, adam)
    page = client.get(batch.get_absolute_url())
    html = page.content.decode()
    assert "partly_bad.jsonl, line 2" in html
    assert "7 is not a severity; use 0 (highest) to 4" in html
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling


def test_batch_page_polls_while_the_import_runs(login, adam):
    batch = imports.create_import_batch(file_name="a.jsonl", content=b"{}", fmt="jsonl")
    response = login(adam).get(batch.get_absolute_url(), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.templates[0].name == "incidents/_import_batch.html"
    assert 'hx-trigger="every 1s"' in html
    assert "Waiting" in html


def test_upload_over_the_size_limit_is_refused_with_a_clear_message(login, adam, settings):
    settings.IMPORT_MAX_BYTES = 10
    upload = SimpleUploadedFile("big.jsonl", b"x" * 11)
    response = login(adam).post(reverse("incidents:import"), {"file": upload, "format": "jsonl"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "file": ["big.jsonl: the file is 11 bytes, above the import limit of 10 bytes (IMPORT_MAX_BYTES)."]
    }
    assert not ImportBatch.objects.exists()


def test_upload_of_an_empty_file_is_refused(login, adam):
    upload = SimpleUploadedFile("empty.jsonl", b"")
    response = login(adam).post(reverse("incidents:import"), {"file": upload, "format": "jsonl"})
    assert "file" in response.context["form"].errors
    assert not ImportBatch.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "fmt", "failure"),
    [
        ("status.json", b'{"incidents": []}', "statuspage",
         "page: no name to use as the source; give a source (the Source field, or --source)"),
        ("blank.jsonl", b"\n\n  \n", "jsonl", "the file is empty (only blank lines)"),
        ("incidents.csv", (FIXTURES / "incidents_sample.csv").read_bytes(), "jsonl",
         "no line is a JSON object (jsonl holds one incident per line); is the format right?"),
    ],
    ids=["statuspage-without-a-page-name", "only-blank-lines", "csv-uploaded-as-jsonl"],
)  # fmt: skip
def test_uploaded_file_that_cannot_be_read_fails_its_batch_saying_why(
    login, adam, django_capture_on_commit_callbacks, eager_tasks, name, content, fmt, failure
):
    client = login(adam)
    upload = SimpleUploadedFile(name, content)
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("incidents:import"), {"file": upload, "format": fmt, "source": ""})
    run_after_commit(callbacks)
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.failure, batch.total, batch.errors) == ("failed", failure, 0, [])
    assert f"{failure}. Nothing was changed." in client.get(batch.get_absolute_url()).content.decode()
    assert not Incident.objects.exists()


@pytest.fixture
def broker_down():
    """Celery's broker (Redis) cannot be reached: sending a task fails after one quick retry."""
    from config.celery import app

    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    _forget_broker_connections(app)
    yield
    app.conf.broker_url, app.conf.task_always_eager = saved
    _forget_broker_connections(app)


def _forget_broker_connections(app):
    """Drop the pools of connections and producers, so the next task is sent to the broker_url set now."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.parametrize(
    ("endpoint", "status", "batch_page"),
    [
        ("incidents:import", 302, "incidents:import-batch"),
        ("api:incidents-api:importbatch-list", 202, "api:incidents-api:importbatch-detail"),
    ],
)
def test_upload_with_the_broker_down_answers_with_its_waiting_batch_for_the_sweep(
    login, adam, broker_down, django_capture_on_commit_callbacks, endpoint, status, batch_page
):
    # given
    client = login(adam)
    upload = SimpleUploadedFile("a.jsonl", (FIXTURES / "incidents_sample.jsonl").read_bytes())
    # when the batch is saved and its task cannot be sent
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse(endpoint), {"file": upload, "format": "jsonl"})
    # then the answer is the batch, waiting
    batch = ImportBatch.objects.get()
    assert (response.status_code, batch.status) == (status, "pending")
    assert response["Location"].endswith(reverse(batch_page, args=[batch.pk]))
    assert "Waiting" in client.get(batch.get_absolute_url()).content.decode()
    # and the sweep sends it once it has waited PENDING_TOO_LONG
    long_ago = timezone.now() - imports.PENDING_TOO_LONG - timedelta(minutes=1)
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=long_ago)
    assert imports.find_abandoned_import_batches() == ([batch], [])


def test_non_admin_cannot_upload(login, maria):
    upload = SimpleUploadedFile("a.jsonl", (FIXTURES / "incidents_sample.jsonl").read_bytes())
    response = login(maria).post(reverse("incidents:import"), {"file": upload, "format": "jsonl"})
    assert response.status_code == 403
    assert not ImportBatch.objects.exists()


def test_list_page_links_to_import_for_admins_only(login, adam, olga):
    assert reverse("incidents:import").encode() in login(adam).get(reverse("incidents:list")).content
    assert reverse("incidents:import").encode() not in login(olga).get(reverse("incidents:list")).content


# In the browser: the upload page's script


@pytest.fixture
def role_groups(transactional_db):
    """The role groups a migration creates, again: a transactional test before this one flushed them."""
    for role in Role.values:
        Group.objects.get_or_create(name=role)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_uploads_in_the_browser_and_lands_on_the_finished_batch(
    page, role_groups, adam, eager_tasks, monkeypatch
):
    # The embedding the import requests is the worker tests' business, not this page's.
    monkeypatch.setattr(imports, "request_embeddings", lambda incident_ids: None)
    log_in(page, "adam", PASSWORD)
    page.goto(reverse("incidents:import"))
    page.set_input_files("#id_file", str(FIXTURES / "incidents_partly_bad.jsonl"))
    assert page.locator("[data-file-name]").inner_text().startswith("incidents_partly_bad.jsonl · ")
    page.select_option("#id_format", "jsonl")
    screenshot(page, "import-upload")
    page.click("[data-upload-button]")
    page.wait_for_url("**/incidents/import/*/")
    batch = page.locator("#import-batch")
    batch.wait_for()
    screenshot(page, "import-batch")
    assert "Done" in batch.inner_text()
    assert "incidents_partly_bad.jsonl, line 2" in batch.inner_text()
    assert sorted(Incident.objects.values_list("external_id", flat=True)) == ["OK-1", "OK-2"]
    # and the list offers the exports and the import
    page.click("text=See the incidents")
    assert page.locator(".page-actions a").all_inner_texts() == ["Export CSV", "Export JSONL", "Import"]
    screenshot(page, "incidents-list-admin")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_browser_refuses_a_file_over_the_limit_before_uploading(page, role_groups, adam, settings, tmp_path):
    settings.IMPORT_MAX_BYTES = 100
    log_in(page, "adam", PASSWORD)
    page.goto(reverse("incidents:import"))
    page.set_input_files("#id_file", str(write(tmp_path, "big.jsonl", "x" * 500)))
    assert page.locator("[data-upload-status]").inner_text() == (
        "big.jsonl is 500 bytes, above the import limit of 100 bytes."
    )
    page.click("[data-upload-button]")
    assert page.url.endswith(reverse("incidents:import"))
    assert not ImportBatch.objects.exists()


def test_the_sweep_reruns_abandoned_batches_and_fails_those_without_a_file(eager_tasks, db):
    from datetime import timedelta

    from django.utils import timezone

    from incidents import imports
    from incidents.models import ImportBatch
    from incidents.tasks import sweep_abandoned_import_batches

    line = b'{"source": "t", "external_id": "x1", "title": "Stuck", "started_at": "2025-01-01T00:00:00Z"}\n'
    kept = imports.create_import_batch(file_name="a.jsonl", content=line, fmt="jsonl")
    lost = imports.create_import_batch(file_name="b.jsonl", content=line, fmt="jsonl", store=False)
    long_ago = timezone.now() - imports.STALE_AFTER - timedelta(minutes=1)
    ImportBatch.objects.filter(pk__in=[kept.pk, lost.pk]).update(status="running", heartbeat_at=long_ago)
    # when
    assert sweep_abandoned_import_batches() == (1, 1)
    # then
    kept.refresh_from_db()
    lost.refresh_from_db()
    assert (kept.status, kept.created) == ("done", 1)
    assert lost.status == "failed"
    assert "import the file again" in lost.failure
    assert sweep_abandoned_import_batches() == (0, 0)
