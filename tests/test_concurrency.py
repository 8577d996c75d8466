"""Twenty clients at once against the live server: ten label, ten import; nothing lost, nothing twice.

The short, correctness-only version of bench/bench_concurrency.py. Analysts save labels
through the labeling screen's form on a handful of incidents; admins upload files through
the API that all hold the same rows, half in one order and half in the other, for a
worker with four processes to upsert at once (the order that used to deadlock).

Only what must never happen is asserted: a saved label without its annotation, an upload
not imported, an incident or a timeline entry twice, a save that failed (two saves of one
incident used to deadlock on its decision rows; labeling.actions.annotations now queues
them behind the incident's row lock).
"""

import json
import random
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from accounts.actions import create_user_with_role
from accounts.models import ApiToken
from accounts.roles import Role
from incidents.models import ImportBatch, Incident
from labeling.models import Annotation, Option
from tests.servers import HttpClient, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LABELERS = IMPORTERS = 10
SAVES_PER_LABELER = 4
UPLOADS_PER_IMPORTER = 2
LABEL_POOL = 4
ROWS = 150
SOURCE = "concurrent"


def _file(descending, revision):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    numbers = sorted(range(ROWS), reverse=descending)
    rows = (
        {"source": SOURCE, "external_id": f"C-{n:03d}", "title": f"Replica {n} stalls (revision {revision})",
         "started_at": (start + timedelta(hours=n)).isoformat(),
         "updates": [{"stage": "identified", "posted_at": (start + timedelta(hours=n, minutes=5)).isoformat(),
                      "body": f"revision {revision}"}]}
        for n in numbers
    )  # fmt: skip
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _label(client, username, incident_ids, option_keys, seed, saved, answers):
    rng = random.Random(seed)
    next_url = "/label/llm-incidents/"
    for _ in range(SAVES_PER_LABELER):
        incident_id, option = rng.choice(incident_ids), rng.choice(option_keys)
        fields = {"category": option, "next": next_url, "csrfmiddlewaretoken": client.csrf_token()}
        path = f"/label/llm-incidents/incidents/{incident_id}/save/"
        status, headers, _ = client.send(path, urlencode(fields).encode())
        answers.append(status)
        if status == 302 and headers.get("Location") == next_url:  # saved; a refusal redirects elsewhere
            saved.append((username, incident_id, option))


def _import(client, token, seed, batch_ids, answers):
    for upload in range(UPLOADS_PER_IMPORTER):
        content = _file(descending=(seed + upload) % 2 == 1, revision=(seed + upload) % 3)
        headers = {"Authorization": f"Token {token}"}
        status, _, body = client.post_file("/api/import-batches/", {"format": "jsonl"}, "rows.jsonl", content, headers)
        answers.append(status)
        if status == 202:
            batch_ids.append(json.loads(body)["id"])


def test_twenty_clients_at_once_lose_no_label_and_write_no_incident_twice(
    live_server, settings, start_worker, taxonomy, make_incident
):
    settings.CSRF_COOKIE_SECURE = False  # plain HTTP on loopback: a Secure cookie would not come back
    worker = start_worker(queues="default", concurrency=4)
    incident_ids = [make_incident(title=f"Pool incident {n}").pk for n in range(LABEL_POOL)]
    option_keys = list(Option.objects.filter(dimension__key="category", parent=None).values_list("key", flat=True))
    threads, saved, label_answers, batch_ids, import_answers = [], [], [], [], []
    for number in range(LABELERS):
        analyst, _ = create_user_with_role(f"analyst-{number}", Role.ANALYST)
        client = HttpClient(live_server.url, follow_redirects=False)
        client.force_log_in(analyst)
        args = (client, analyst.username, incident_ids, option_keys, number, saved, label_answers)
        threads.append(threading.Thread(target=_label, args=args))
    for number in range(IMPORTERS):
        admin, _ = create_user_with_role(f"importer-{number}", Role.ADMIN)
        token = ApiToken.issue(admin, "concurrency")[1]
        args = (HttpClient(live_server.url), token, number, batch_ids, import_answers)
        threads.append(threading.Thread(target=_import, args=args))
    worker.wait_for_line("ready.", timeout=60)
    # when: all at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batches = ImportBatch.objects.filter(pk__in=batch_ids)
    wait_for(lambda: not batches.exclude(status__in=["done", "failed"]).exists(), 180, "the imports to finish")
    # then: every upload was taken and imported, every row once with its one timeline entry
    assert import_answers == [202] * IMPORTERS * UPLOADS_PER_IMPORTER
    assert list(batches.exclude(status="done").values_list("failure", flat=True)) == []
    imported = Incident.objects.filter(source=SOURCE)
    assert imported.count() == imported.values("external_id").distinct().count() == ROWS
    assert imported.filter(updates__isnull=False).count() == ROWS  # one timeline entry each, not two
    # and every label saved has its annotation, the last one saved being the current one
    assert len(label_answers) == LABELERS * SAVES_PER_LABELER
    assert 500 not in label_answers, label_answers
    assert saved, f"no save went through: {label_answers}"
    for username, incident_id, option in saved:
        mine = Annotation.objects.filter(annotator__username=username, incident_id=incident_id, options__key=option)
        assert mine.filter(dimension__key="category").exists(), (username, incident_id, option)
    last = {(username, incident_id): option for username, incident_id, option in saved}
    for (username, incident_id), option in last.items():
        current = Annotation.objects.get(
            annotator__username=username, incident_id=incident_id, dimension__key="category", is_current=True
        )
        assert list(current.options.values_list("key", flat=True)) == [option]
