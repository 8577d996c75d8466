"""A real Celery worker on a real Redis, against the test database."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from config.celery import app
from incidents.pipeline import request_embeddings
from labeling.models import Embedding
from labeling.tasks import embed_incidents

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent
# The worker loads torch and the model before taking work: allow for a slow machine.
EMBEDDED_WITHIN_SECONDS = 90


def _worker_env(**extra):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **extra}
    test_database = connection.settings_dict["NAME"]
    if os.environ.get("DATABASE_URL"):
        parts = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{test_database}"))
    else:
        env["TRIAGE_EMBEDDED_DB"] = test_database
    return env


class Worker:
    """A `celery worker` process whose log lines the test can wait for."""

    def __init__(self, **env):
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", "default,embed",
             "--concurrency", "1", "--loglevel", "info", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=_worker_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_line(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            time.sleep(0.1)
        raise AssertionError(f"worker never logged {text!r}; its log:\n{''.join(self.lines[-40:])}")

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker():
    app.control.purge()
    workers = []

    def start(**env):
        worker = Worker(**env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


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
    # then: the unacknowledged task goes to the next worker
    second = start_worker(CELERY_VISIBILITY_TIMEOUT="5")
    _wait_for_embeddings(ids, timeout=120)
    assert any("embedded 150" in line for line in second.lines)
