"""The database goes away under a signed-in session: the next request must just work.

The app keeps database connections open between requests (CONN_MAX_AGE) and checks one
before reusing it (CONN_HEALTH_CHECKS), so a connection the server killed is replaced, not
used. Both tests run the app under gunicorn, as in production, with a signed-in client:
the first kills every connection to the test database on the shared embedded server (what
a restart does to the app, without stopping the server other tests use); the second
really restarts a throwaway PostgreSQL of its own, crash-style.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.models import ApiToken
from config import embedded
from tests.conftest import PASSWORD
from tests.servers import ROOT, AppServer, HttpClient, env_for_test_database


def test_the_app_keeps_connections_and_checks_them_before_use():
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] > 0
    assert database["CONN_HEALTH_CHECKS"] is True


def _browse(client):
    """A signed-in user's round: a page, the API, and a form that writes."""
    status, page = client.get("/incidents/")
    assert status == 200, page[-2000:]
    status, body = client.get("/api/incidents/", Accept="application/json")
    assert status == 200, body[-2000:]
    status, page = client.post_form("/accounts/tokens/", {"name": "after the outage"})
    assert status == 200, page[-2000:]
    assert 'id="new-token"' in page


def _other_backends(cursor):
    cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
    return {pid for (pid,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_a_session_survives_the_database_killing_its_connections(alice):
    server = AppServer(env_for_test_database())
    try:
        client = HttpClient(server.url)
        client.force_log_in(alice)
        _browse(client)
        with connection.cursor() as cursor:
            before = _other_backends(cursor)
            assert before, "the app server holds no connection to reuse"
            # when: every connection but this one is cut, as a restart or failover does
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            # then: the same session goes on, on new connections
            _browse(client)
            assert not before & _other_backends(cursor)
    finally:
        server.stop()
    assert ApiToken.objects.filter(user=alice, name="after the outage").count() == 2


class ThrowawayPostgres:
    """A PostgreSQL server of this test's own (the embedded kind), in a temporary folder."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="triage-restart-"))
        self.pgdata = self.folder / "pgdata"
        self.server = embedded.postgres_server(self.pgdata, cleanup_mode="delete")
        socket_dir = self.server.get_postmaster_info().socket_dir
        self.server.psql("CREATE DATABASE triage_restart;")
        self.url = f"postgresql://postgres@/triage_restart?host={socket_dir}"

    def restart(self, mode):
        """Stop (`immediate`: like a crash, recovery on start) and start again at the same socket."""
        embedded.pg_ctl(self.pgdata, "-w", "-m", mode, "stop")
        self.server.ensure_postgres_running()

    def remove(self):
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def throwaway_postgres():
    postgres = ThrowawayPostgres()
    yield postgres
    postgres.remove()


def _manage(env, *args):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)


def test_a_session_survives_a_restart_of_the_database_server(throwaway_postgres):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DATABASE_URL": throwaway_postgres.url}
    _manage(env, "migrate", "--verbosity", "0")
    password = {"DJANGO_SUPERUSER_PASSWORD": PASSWORD}
    _manage({**env, **password}, "createsuperuser", "--noinput", "--username", "root", "--email", "root@example.com")
    server = AppServer(env)
    try:
        client = HttpClient(server.url)
        client.log_in("root", PASSWORD)
        _browse(client)
        # when: the database server crashes and comes back; the app is not restarted
        throwaway_postgres.restart("immediate")
        # then: the session (kept in the database) is still good and every kind of request works
        _browse(client)
        throwaway_postgres.restart("fast")
        _browse(client)
    finally:
        server.stop()
