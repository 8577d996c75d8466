"""Concurrency: 20 clients on loopback against the app under gunicorn, half labeling, half importing.

Ten analysts save labels through the labeling screen's form on a small pool of incidents
(so they collide on the same ones); ten admins upload small JSON-lines files through the
API, whose external ids overlap (so the worker's upserts race on the same rows), and follow
each batch until it is done, as the upload page does. After `--seconds` (default 60;
BENCH_CONCURRENCY_SECONDS) the clients stop and the data is checked: every saved label
has its annotation, no incident twice, every timeline whole, decisions that follow the
annotations, every import done, no 5xx and no deadlock in the servers' log. Prints
requests/s, p50/p95 latency per kind (an "import" is an upload until its batch is done)
and error counts; exits 1 when a check fails.

Runs on its own database and, with the embedded Redis, its own Redis database (14), so a
`make run` next to it is left alone.
"""

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, setup_django

DATABASE = "triage_bench_concurrency"
REDIS_DATABASE = "14"
SECONDS = int(os.environ.get("BENCH_CONCURRENCY_SECONDS", "60"))
LABELERS = IMPORTERS = 10
TAXONOMY = "llm-incidents"
# Incidents the analysts label: few, so two analysts often save the same one at once.
LABEL_POOL = 30
# External ids the imports draw from, and rows per file: files overlap a lot.
IMPORT_ID_SPACE = 400
ROWS_PER_IMPORT = 25
REVISIONS = 3  # each row comes in three versions, so a re-import is often an update
UPDATES_PER_ROW = 2
SOURCE = "bench-concurrency"
# How long an importer follows its batch (and, once the clients stop, how long queued ones get).
SETTLE_SECONDS = 300
# How often an importer asks for its batch's status (the upload page asks every second).
POLL_SECONDS = 0.25
# Two web processes of ten threads: twenty requests at once on a two-core machine.
GUNICORN_WORKERS, GUNICORN_THREADS = 2, 10
IMPORT_WORKER_CONCURRENCY = 2


@dataclass
class Call:
    kind: str
    status: int
    seconds: float
    ok: bool
    detail: tuple = ()


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Client:
    """One user agent: its own cookies, no redirects followed (a save answers with one)."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.cookies), _NoRedirect)

    def send(self, path, body=None, headers=None):
        """Return (status, headers, body); a transport failure is status 0."""
        request = Request(self.base_url + path, data=body, headers=headers or {})  # noqa: S310 - loopback URL
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.headers, response.read()
        except HTTPError as error:
            return error.code, error.headers, error.read()
        except (URLError, OSError) as error:
            return 0, {}, str(error).encode()

    def csrf_token(self):
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def log_in(self, username, password):
        self.send("/accounts/login/")
        fields = {"username": username, "password": password, "csrfmiddlewaretoken": self.csrf_token()}
        status, _, _ = self.send("/accounts/login/", urlencode(fields).encode())
        if status != 302:
            raise RuntimeError(f"{username} could not sign in ({status})")
        self.send(f"/label/{TAXONOMY}/")  # the CSRF token changes at sign-in: fetch the new one


def _multipart(fields, file_name, content):
    boundary = uuid.uuid4().hex
    head = f"--{boundary}\r\nContent-Disposition: form-data; "
    parts = [f'{head}name="{name}"\r\n\r\n{value}\r\n'.encode() for name, value in fields.items()]
    parts.append(f'{head}name="file"; filename="{file_name}"\r\nContent-Type: text/plain\r\n\r\n'.encode())
    parts.append(content + f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def import_file(rng):
    """A few rows drawn from the shared id space, each in one of its revisions."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    lines = []
    for number in rng.sample(range(IMPORT_ID_SPACE), ROWS_PER_IMPORT):
        revision = rng.randrange(REVISIONS)
        started = start + timedelta(hours=number)
        updates = [
            {"stage": "investigating", "posted_at": (started + timedelta(minutes=5)).isoformat(), "body": "Looking."},
            {"stage": "resolved", "posted_at": (started + timedelta(hours=1)).isoformat(), "body": f"r{revision}"},
        ]
        record = {"source": SOURCE, "external_id": f"C-{number:04d}", "title": f"Replica stalls (revision {revision})",
                  "started_at": started.isoformat(), "severity": number % 5, "updates": updates}  # fmt: skip
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def labeler(client, username, incident_ids, option_keys, stop, calls, seed):
    rng = random.Random(seed)
    next_url = f"/label/{TAXONOMY}/"
    while not stop.is_set():
        incident_id, option = rng.choice(incident_ids), rng.choice(option_keys)
        fields = {"category": option, "next": next_url, "csrfmiddlewaretoken": client.csrf_token()}
        started = time.perf_counter()
        status, headers, _ = client.send(f"/label/{TAXONOMY}/incidents/{incident_id}/save/", urlencode(fields).encode())
        # Saved: a redirect to `next`; refused: a redirect back to the same incident with a message.
        ok = status == 302 and headers.get("Location") == next_url
        calls.append(Call("label", status, time.perf_counter() - started, ok, (username, incident_id, option)))


def importer(client, token, stop, calls, seed):
    """Upload a file, then follow its batch until it is done, as the upload page does; again."""
    rng = random.Random(seed)
    auth = {"Authorization": f"Token {token}"}
    while not stop.is_set():
        body, content_type = _multipart({"format": "jsonl"}, "concurrent.jsonl", import_file(rng))
        started = time.perf_counter()
        status, _, answer = client.send("/api/import-batches/", body, {**auth, "Content-Type": content_type})
        batch_id = json.loads(answer)["id"] if status == 202 else None
        calls.append(Call("upload", status, time.perf_counter() - started, status == 202, (batch_id,)))
        if batch_id is None:
            continue
        batch_status = "pending"
        while batch_status in ("pending", "running") and time.perf_counter() - started < SETTLE_SECONDS:
            time.sleep(POLL_SECONDS)
            polled = time.perf_counter()
            status, _, answer = client.send(f"/api/import-batches/{batch_id}/", None, auth)
            calls.append(Call("poll", status, time.perf_counter() - polled, status == 200))
            batch_status = json.loads(answer)["status"] if status == 200 else batch_status
        calls.append(Call("import", 0, time.perf_counter() - started, batch_status == "done", (batch_id,)))


def prepare():
    """Empty this bench's tables, then make the users, their tokens and the labeling pool."""
    from django.db import connection

    from accounts.actions import create_user_with_role
    from accounts.models import ApiToken
    from accounts.roles import Role
    from incidents.models import Incident

    assert connection.settings_dict["NAME"] == DATABASE or os.environ.get("DATABASE_URL")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE incidents_incidentupdate, incidents_incident, incidents_importbatch CASCADE")
    password = uuid.uuid4().hex
    analysts = []
    for number in range(1, LABELERS + 1):
        user, _ = create_user_with_role(f"bench-analyst-{number:02d}", Role.ANALYST)
        user.set_password(password)
        user.save(update_fields=["password"])
        analysts.append(user.username)
    tokens = []
    for number in range(1, IMPORTERS + 1):
        user, _ = create_user_with_role(f"bench-importer-{number:02d}", Role.ADMIN)
        tokens.append(ApiToken.issue(user, "bench_concurrency")[1])
    started = datetime(2024, 6, 1, tzinfo=UTC)
    pool = Incident.objects.bulk_create(
        Incident(source="bench-labeling", external_id=f"L-{n}", title=f"Labeling pool incident {n}",
                 started_at=started + timedelta(days=n))
        for n in range(LABEL_POOL)
    )  # fmt: skip
    return analysts, password, tokens, [incident.pk for incident in pool]


def start_servers(log):
    """gunicorn for the pages and the API, a Celery worker for the imports (not the embeddings)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DJANGO_SECURE_COOKIES": "false", "LOG_LEVEL": "warning"}
    output = {"cwd": ROOT, "env": env, "stdout": log, "stderr": subprocess.STDOUT, "start_new_session": True}
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(GUNICORN_WORKERS), "--threads", str(GUNICORN_THREADS), "--timeout", "120"],
        **output,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", "default", "--concurrency",
         str(IMPORT_WORKER_CONCURRENCY), "--loglevel", "warning", "--without-gossip", "--without-mingle"],
        **output,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or web.poll() is not None:
                raise RuntimeError("gunicorn did not start") from None
            time.sleep(0.2)
    return f"http://127.0.0.1:{port}", [web, worker]


def stop_servers(processes):
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def run_clients(base_url, analysts, password, tokens, incident_ids, seconds):
    from labeling.models import Option

    option_keys = list(
        Option.objects.filter(dimension__taxonomy__key=TAXONOMY, dimension__taxonomy__active=True)
        .filter(dimension__key="category", parent=None)
        .values_list("key", flat=True)
    )
    stop, calls, threads = threading.Event(), [], []
    for number, username in enumerate(analysts):
        client = Client(base_url)
        client.log_in(username, password)
        args = (client, username, incident_ids, option_keys, stop, calls, number)
        threads.append(threading.Thread(target=labeler, args=args))
    for number, token in enumerate(tokens):
        threads.append(threading.Thread(target=importer, args=(Client(base_url), token, stop, calls, 100 + number)))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return calls, time.perf_counter() - started


def wait_for_imports(batch_ids):
    from incidents.models import ImportBatch

    started = time.monotonic()
    waiting = ImportBatch.objects.filter(pk__in=batch_ids).exclude(status__in=["done", "failed"])
    while waiting.exists() and time.monotonic() < started + SETTLE_SECONDS:
        time.sleep(0.5)
    print(f"queued imports finished {time.monotonic() - started:.1f} s after the clients stopped", flush=True)
    return Counter(ImportBatch.objects.filter(pk__in=batch_ids).values_list("status", flat=True))


def print_figures(calls, elapsed):
    requests = [call for call in calls if call.kind != "import"]  # an import is an upload plus polls
    print(f"{len(requests):,} requests in {elapsed:.1f} s: {len(requests) / elapsed:,.1f} requests/s", flush=True)
    for kind in ("label", "upload", "poll", "import"):
        mine = [call for call in calls if call.kind == kind]
        if not mine:
            continue
        latencies = sorted(call.seconds * 1000 for call in mine)
        p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        counts = sorted(Counter(call.status for call in mine).items())
        statuses = "" if kind == "import" else f" (statuses {', '.join(f'{s}: {n}' for s, n in counts)})"
        noun = "imports" if kind == "import" else "requests"
        print(
            f"  {kind:6}: {len(mine):,} {noun}, {len(mine) / elapsed:,.1f}/s, "
            f"p50 {statistics.median(latencies):.0f} ms, p95 {p95:.0f} ms, "
            f"failed {sum(not call.ok for call in mine)}{statuses}",
            flush=True,
        )


def check(calls, batch_statuses, log_path):
    """Print each correctness check; return the number that failed."""
    from django.db.models import Count

    from incidents.models import ImportBatch, Incident
    from labeling.models import Annotation, Decision, Taxonomy

    requests = [call for call in calls if call.kind != "import"]
    problems = {
        "5xx or no answer": sum(1 for call in requests if call.status == 0 or call.status >= 500),
        "imports not done": sum(count for status, count in batch_statuses.items() if status != "done"),
    }
    failures = ImportBatch.objects.filter(status="failed").values_list("failure", flat=True)
    problems["deadlocks in the server log"] = log_path.read_text(errors="replace").count("DeadlockDetected")
    saved = [call.detail for call in calls if call.kind == "label" and call.ok]
    problems["lost annotations"] = sum(
        not Annotation.objects.filter(
            annotator__username=username, incident_id=incident_id, dimension__key="category", options__key=option
        ).exists()
        for username, incident_id, option in saved
    )
    last = {(username, incident_id): option for username, incident_id, option in saved}
    current = {
        (username, incident_id): option
        for username, incident_id, option in Annotation.objects.filter(
            is_current=True, is_adjudication=False, dimension__key="category", annotator__username__startswith="bench-"
        ).values_list("annotator__username", "incident_id", "options__key")
    }
    problems["current annotation is not the last saved"] = sum(current.get(key) != value for key, value in last.items())
    duplicates = Incident.objects.values("source", "external_id").annotate(n=Count("id")).filter(n__gt=1)
    problems["duplicate incidents"] = duplicates.count()
    imported = Incident.objects.filter(source=SOURCE).annotate(entries=Count("updates"))
    problems["timelines not whole"] = imported.exclude(entries=UPDATES_PER_ROW).count()
    taxonomy = Taxonomy.objects.get(key=TAXONOMY, active=True)
    problems["decisions not following the annotations"] = _decision_mismatches(taxonomy, Annotation, Decision)
    print(f"  imports: {dict(batch_statuses)}; {imported.count():,} distinct imported incidents", flush=True)
    for name, count in problems.items():
        print(f"  {'ok' if count == 0 else 'PROBLEM'}: {name}: {count}", flush=True)
    for failure in sorted(set(failures))[:5]:
        print(f"    failed import: {failure[:300]}", flush=True)
    return sum(1 for count in problems.values() if count)


def _decision_mismatches(taxonomy, annotation_model, decision_model):
    """Incidents whose category decision is not what their current annotations imply."""
    votes, decided = defaultdict(lambda: defaultdict(set)), defaultdict(set)
    annotations = annotation_model.objects.filter(
        dimension__taxonomy=taxonomy, dimension__key="category", is_current=True, is_adjudication=False
    ).values_list("incident_id", "id", "options__key")
    for incident_id, annotation_id, option in annotations:
        votes[incident_id][annotation_id].add(option)
    rows = decision_model.objects.filter(dimension__taxonomy=taxonomy, dimension__key="category")
    for incident_id, option in rows.values_list("incident_id", "option__key"):
        decided[incident_id].add(option)
    mismatches = 0
    for incident_id in set(votes) | set(decided):
        values = {frozenset(options) for options in votes[incident_id].values()}
        single_waits = len(votes[incident_id]) == 1 and taxonomy.requires_double_labeling(incident_id)
        expected = set(next(iter(values))) if len(values) == 1 and not single_waits else set()
        mismatches += decided[incident_id] != expected
    return mismatches


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=SECONDS, help="how long the clients run (default %(default)s)")
    seconds = parser.parse_args().seconds
    if not os.environ.get("CELERY_BROKER_URL"):
        os.environ.setdefault("TRIAGE_REDIS_DB", REDIS_DATABASE)
    setup_django(database=DATABASE)
    from config.celery import app

    analysts, password, tokens, incident_ids = prepare()
    log_path = ROOT / "var" / "bench_concurrency.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below, after the servers
    base_url, processes = start_servers(log)
    try:
        print(f"{LABELERS} labeling + {IMPORTERS} importing clients for {seconds} s against {base_url}", flush=True)
        calls, elapsed = run_clients(base_url, analysts, password, tokens, incident_ids, seconds)
        batch_ids = [call.detail[0] for call in calls if call.kind == "upload" and call.ok]
        batch_statuses = wait_for_imports(batch_ids)
    finally:
        stop_servers(processes)
        log.close()
        app.control.purge()  # the embeddings the imports asked for: this bench does not run them
    print_figures(calls, elapsed)
    print(f"server log (web and import worker): {log_path}", flush=True)
    return 1 if check(calls, batch_statuses, log_path) else 0


if __name__ == "__main__":
    sys.exit(main())
