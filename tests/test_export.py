"""Exporting incidents: the command, the list page's download, and reading the file back."""

import csv
import io
import json
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, IncidentUpdate
from labeling.models import Decision, Option

FIXTURES = Path(__file__).parent / "fixtures"
DATA = Path(settings.BASE_DIR).parent / "shared" / "data"


def export(*args):
    out = StringIO()
    call_command("export_incidents", *args, stdout=out)
    return out.getvalue()


def import_file(path, fmt, *args):
    out = StringIO()
    call_command("import_incidents", str(path), f"--format={fmt}", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def everything():
    """The incidents and timelines as plain values, ids left out, to compare two databases."""
    fields = [field.name for field in Incident._meta.fields if field.name not in {"id", "created_at", "updated_at"}]
    incidents = sorted(Incident.objects.values_list(*fields))
    updates = sorted(IncidentUpdate.objects.values_list("incident__external_id", "stage", "posted_at", "body"))
    return incidents, updates


def decide(incident, taxonomy, dimension_key, *option_keys):
    for key in option_keys:
        option = Option.objects.get(dimension__taxonomy=taxonomy, dimension__key=dimension_key, key=key)
        Decision.objects.create(incident=incident, dimension=option.dimension, option=option, decided_at=timezone.now())


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_what_export_writes_import_reads_back(db, tmp_path, fmt):
    # given incidents from every format
    import_file(FIXTURES / "statuspage_sample.json", "statuspage")
    import_file(FIXTURES / "incidents_sample.jsonl", "jsonl")
    import_file(FIXTURES / "incidents_sample.csv", "csv")
    original = everything()
    path = tmp_path / f"export.{fmt}"
    path.write_text(export(f"--format={fmt}"), encoding="utf-8")
    # when reading the export back over the same data
    out = import_file(path, fmt)
    # then nothing changes
    assert ": 0 created, 0 updated, 8 unchanged, 0 rejected" in out
    # and into an empty database it rebuilds the same incidents
    Incident.objects.all().delete()
    out = import_file(path, fmt)
    assert ": 8 created, 0 updated, 0 unchanged, 0 rejected" in out
    assert everything() == original
    assert export(f"--format={fmt}") == path.read_text(encoding="utf-8")


@pytest.mark.skipif(not (DATA / "statuspage_openai.json").exists(), reason=f"the public data is not at {DATA}")
def test_real_data_round_trip(db, tmp_path):
    for provider in ("openai", "anthropic", "character"):
        import_file(DATA / f"statuspage_{provider}.json", "statuspage", f"--source={provider}")
    path = tmp_path / "all.jsonl"
    call_command("export_incidents", "--format=jsonl", f"--output={path}", stderr=StringIO())
    assert len(path.read_text(encoding="utf-8").splitlines()) == 542
    assert ": 0 created, 0 updated, 542 unchanged, 0 rejected" in import_file(path, "jsonl")


def test_csv_export_has_labels_as_columns(make_incident, taxonomy):
    # given two incidents, one decided on category and (multi-valued) mitigation
    decided = make_incident(external_id="A", title="KV cache full", updates=[("resolved", 30, "Fixed, with a comma")])
    make_incident(external_id="B", title="Undecided")
    decide(decided, taxonomy, "category", "timeout")
    decide(decided, taxonomy, "mitigation", "hotfix", "rollback")
    # when
    rows = list(csv.DictReader(io.StringIO(export("--format=csv"))))
    # then
    assert list(rows[0])[-3:] == ["updates", "label.llm-incidents.category", "label.llm-incidents.mitigation"]
    by_id = {row["external_id"]: row for row in rows}
    assert by_id["A"]["label.llm-incidents.category"] == "timeout"
    assert by_id["A"]["label.llm-incidents.mitigation"] == "hotfix|rollback"
    assert by_id["B"]["label.llm-incidents.category"] == ""
    assert by_id["A"]["ttd_minutes"] == "4.0"
    assert by_id["A"]["ttm_minutes"] == "40.0"
    assert json.loads(by_id["A"]["updates"])[0]["body"] == "Fixed, with a comma"
    assert json.loads(by_id["A"]["tags"]) == []


def test_jsonl_export_lists_labels_and_uses_api_field_names(make_incident, taxonomy):
    decided = make_incident(external_id="A", tags=["gpu"])
    decide(decided, taxonomy, "detection", "automated")
    (line,) = export("--format=jsonl").splitlines()
    record = json.loads(line)
    assert record["label.llm-incidents.detection"] == ["automated"]
    assert record["tags"] == ["gpu"]
    assert record["started_at"].endswith("Z")
    assert list(record)[:3] == ["source", "external_id", "title"]


def test_export_command_takes_the_list_filters(make_incident, tmp_path):
    make_incident(external_id="CHAT", service="chat-api", severity=1)
    make_incident(external_id="EMB", service="embeddings-api", severity=3)
    lines = export("--format=jsonl", "--filter", "service=chat-api")
    assert [json.loads(line)["external_id"] for line in lines.splitlines()] == ["CHAT"]
    lines = export("--format=jsonl", "--filter", "severity=1", "--filter", "severity=3")
    assert len(lines.splitlines()) == 2


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("colour=red", "--filter: unknown filter colour"),
        ("severity=9", "--filter severity: Select a valid choice. 9 is not one of the available choices."),
        ("service", "--filter 'service': write it as NAME=VALUE"),
    ],
)
def test_export_command_refuses_bad_filters(db, argument, message):
    with pytest.raises(CommandError) as raised:
        export("--format=csv", "--filter", argument)
    assert str(raised.value) == message


# The download button of the list page


@pytest.mark.parametrize(
    ("actor", "status"), [("alice", 403), ("olga", 403), ("charlie", 403), ("maria", 200), ("adam", 200)]
)
def test_export_download_is_for_managers_and_admins(request, login, make_incident, actor, status):
    make_incident()
    response = login(request.getfixturevalue(actor)).get(reverse("incidents:export"), {"format": "csv"})
    assert response.status_code == status


def test_anonymous_export_is_sent_to_login(client, db):
    assert client.get(reverse("incidents:export"), {"format": "csv"}).status_code == 302


def test_export_download_honours_the_filters_and_names_the_file(login, maria, make_incident):
    make_incident(external_id="CHAT", service="chat-api", title="Chat outage with NCCL hang")
    make_incident(external_id="EMB", service="embeddings-api")
    response = login(maria).get(reverse("incidents:export"), {"format": "jsonl", "q": "nccl"})
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="incidents-')
    assert response["Content-Disposition"].endswith('.jsonl"')
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["external_id"] for line in lines] == ["CHAT"]


def test_export_download_refuses_an_unknown_format(login, maria):
    response = login(maria).get(reverse("incidents:export"), {"format": "xlsx"})
    assert response.status_code == 400
    assert b"format: Select a valid choice." in response.content


def test_list_page_shows_export_buttons_to_managers_with_the_filters(login, maria, olga, make_incident):
    make_incident()
    html = login(maria).get(reverse("incidents:list"), {"service": "chat-api"}).content.decode()
    assert f"{reverse('incidents:export')}?service=chat-api&amp;format=csv" in html
    assert reverse("incidents:export") not in login(olga).get(reverse("incidents:list")).content.decode()


def test_export_queries_do_not_grow_with_the_incidents(
    login, maria, make_incident, taxonomy, django_assert_max_num_queries
):
    for _ in range(30):
        incident = make_incident(updates=[("investigating", 1, "Looking."), ("resolved", 9, "Done.")])
        decide(incident, taxonomy, "category", "timeout")
    client = login(maria)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("incidents:export"), {"format": "csv"})
        body = b"".join(response.streaming_content)
    assert len(list(csv.reader(io.StringIO(body.decode())))) == 31
