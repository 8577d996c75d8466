"""A real Celery worker on a real Redis, against the test database."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import imports
from incidents.models import ImportBatch, Incident, IncidentUpdate
from incidents.pipeline import request_embeddings
from incidents.tasks import run_import_batch, sweep_abandoned_import_batches
from labeling.models import Embedding
from labeling.tasks import embed_incidents
from tests.servers import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
# The worker loads torch and the model before taking work: allow for a slow machine.
EMBEDDED_WITHIN_SECONDS = 90


def _wait_for_embeddings(incident_ids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Embedding.objects.filter(incident_id__in=incident_ids).count() == len(incident_ids):
            return time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"only {Embedding.objects.filter(incident_id__in=incident_ids).count()} embedded")


def test_a_new_incident_is_embedded_by_the_worker(start_worker, make_incident):
    worker = start_worker()
    worker.wait_for_line("ready.", timeout=60)
    # when
    incident = make_incident(title="Speech API returns empty audio")
    sent = time.monotonic()
    request_embeddings([incident.pk])
    # then
    done = _wait_for_embeddings([incident.pk], EMBEDDED_WITHIN_SECONDS)
    print(f"embedded {done - sent:.1f} s after commit")


def test_a_worker_killed_mid_batch_loses_nothing(start_worker, make_incident):
    incidents = [make_incident(postmortem="The engine stalled on long prompts. " * 30) for _ in range(150)]
    ids = [incident.pk for incident in incidents]
    first = start_worker(CELERY_VISIBILITY_TIMEOUT="5")
    first.wait_for_line("ready.", timeout=60)
    embed_incidents.apply_async(args=[ids], queue="embed")
    first.wait_for_line("Task labeling.tasks.embed_incidents", timeout=60)
    # when: the worker dies hard while it encodes
    first.kill()
    assert Embedding.objects.filter(incident_id__in=ids).count() == 0
    # then: the unacknowledged task goes to the next worker, which looks for such tasks as it
    # starts (then only every 100 s): with a 1 s visibility timeout, this one is old enough
    second = start_worker(CELERY_VISIBILITY_TIMEOUT="1")
    _wait_for_embeddings(ids, timeout=120)
    assert any("embedded 150" in line for line in second.lines)


# Enough rows for many chunks (seconds of work), so the worker dies with some written, most not.
IMPORT_ROWS = 10 * imports.CHUNK_SIZE


def _incident_lines(count):
    lines = (
        {"source": "killed", "external_id": f"K-{number}", "title": f"Replica {number} stalls on long prompts",
         "started_at": f"2025-01-01T{number % 24:02d}:00:00Z",
         "updates": [{"stage": "identified", "posted_at": f"2025-01-01T{number % 24:02d}:05:00Z", "body": "Found."}]}
        for number in range(count)
    )  # fmt: skip
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def test_a_worker_killed_mid_import_leaves_a_batch_the_sweep_finishes(start_worker):
    batch = imports.create_import_batch(file_name="big.jsonl", content=_incident_lines(IMPORT_ROWS), fmt="jsonl")
    # Only the default queue: the embeddings the import asks for wait, they are not this test's.
    first = start_worker(queues="default")
    first.wait_for_line("ready.", timeout=60)
    run_import_batch.delay(batch.pk)
    wait_for(lambda: ImportBatch.objects.get(pk=batch.pk).created >= imports.CHUNK_SIZE, 120, "a first chunk")
    # when: the worker dies hard with chunks still to write
    first.kill()
    batch.refresh_from_db()
    assert batch.status == "running"
    assert imports.CHUNK_SIZE <= batch.created < IMPORT_ROWS
    assert Incident.objects.filter(source="killed").count() == batch.created  # whole chunks only
    # then: once the batch has been silent for STALE_AFTER, the sweep queues it again, and a
    # new worker gets that message and the unacknowledged one: one reruns it, one finds it taken
    silent_since = timezone.now() - imports.STALE_AFTER - timedelta(minutes=1)
    ImportBatch.objects.filter(pk=batch.pk, status="running").update(heartbeat_at=silent_since)
    assert sweep_abandoned_import_batches() == (1, 0)
    # A 1 s visibility timeout, as above: the unacknowledged message is restored as it starts.
    second = start_worker(queues="default", CELERY_VISIBILITY_TIMEOUT="1")
    wait_for(lambda: ImportBatch.objects.get(pk=batch.pk).is_finished, 180, "the rerun to finish")
    batch.refresh_from_db()
    assert (batch.status, batch.failure, batch.total, batch.rejected) == ("done", "", IMPORT_ROWS, 0)
    assert batch.created + batch.unchanged == IMPORT_ROWS
    assert batch.unchanged >= imports.CHUNK_SIZE  # the chunks committed before the kill were not redone
    killed = Incident.objects.filter(source="killed")
    assert killed.count() == killed.values("external_id").distinct().count() == IMPORT_ROWS
    assert IncidentUpdate.objects.filter(incident__source="killed").count() == IMPORT_ROWS  # no timeline twice
    assert sweep_abandoned_import_batches() == (0, 0)
    second.wait_for_line("is claimed or finished already", timeout=60)


def test_a_worker_stamps_the_heartbeat_while_it_runs_no_task(start_worker):
    from django.conf import settings
    from django.core.cache.backends.redis import RedisCache

    from config.embedded import cache_config
    from config.health import HEARTBEAT_KEY

    # The worker's cache (Redis), not the test's private one.
    shared = cache_config(settings.CELERY_BROKER_URL)
    workers_cache = RedisCache(shared["LOCATION"], {})
    # given a worker listening on a queue nothing is sent to, so no task of any kind runs
    worker = start_worker(queues="nothing-is-sent-here", WORKER_HEARTBEAT_SECONDS="1")
    worker.wait_for_line("ready.", timeout=EMBEDDED_WITHIN_SECONDS)
    # when its stamp is wiped
    workers_cache.delete(HEARTBEAT_KEY)
    # then its main process stamps it again within a few beats
    wait_for(lambda: workers_cache.get(HEARTBEAT_KEY) is not None, timeout=15, what="a fresh worker heartbeat")
