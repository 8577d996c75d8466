"""Real servers for the tests that need them: Celery workers, the app under gunicorn, an HTTP client.

A pytest plugin (tests/conftest.py lists it): `start_worker` is a fixture for every test.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit, urlunsplit
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from config.celery import app

ROOT = Path(__file__).resolve().parent.parent
# gunicorn imports Django and the app; a loaded two-core machine takes a few seconds.
START_TIMEOUT_SECONDS = 60


def env_for_test_database(**extra):
    """The environment of a child process (worker, web server) that uses this test's database."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **extra}
    test_database = connection.settings_dict["NAME"]
    if os.environ.get("DATABASE_URL"):
        parts = urlsplit(os.environ["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{test_database}"))
    else:
        env["TRIAGE_EMBEDDED_DB"] = test_database
    return env


def stop_process_group(process, timeout=20):
    """SIGTERM a child started in its own process group, then SIGKILL it if it is still there after `timeout` s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class Worker:
    """A `celery worker` process whose log lines the test can wait for."""

    def __init__(self, queues="default,embed", concurrency=1, **env):
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--queues", queues,
             "--concurrency", str(concurrency), "--loglevel", "info", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env_for_test_database(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
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
        stop_process_group(self.process)


@pytest.fixture
def start_worker():
    """Start Celery workers on the real Redis against this test's database; stopped after the test."""
    assert not app.conf.task_always_eager, "an earlier test left Celery eager: tasks would never reach the worker"
    app.control.purge()
    workers = []

    def start(queues="default,embed", concurrency=1, **env):
        worker = Worker(queues, concurrency, **env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    app.control.purge()  # what a test left queued (embeddings of imported rows) is not the next one's


def wait_for(condition, timeout, what):
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {timeout} s for {what}")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AppServer:
    """The app under gunicorn on a loopback port, as in production: persistent database connections."""

    def __init__(self, env, workers=1, threads=1):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Plain HTTP on loopback: cookies without the Secure flag, or the client would not send them back.
        env = {**env, "DJANGO_SECURE_COOKIES": "false"}
        self.log = open(os.devnull, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads), "--timeout", "120"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self._wait_until_it_answers()

    def _wait_until_it_answers(self):
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not listen on {self.port} within {START_TIMEOUT_SECONDS} s")

    def stop(self):
        stop_process_group(self.process)
        self.log.close()


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class HttpClient:
    """A cookie-keeping HTTP client that signs in and posts forms with their CSRF token."""

    def __init__(self, base_url, timeout=60, follow_redirects=True):
        self.base_url = base_url
        self.timeout = timeout
        self.cookies = CookieJar()
        handlers = [HTTPCookieProcessor(self.cookies)] + ([] if follow_redirects else [_NoRedirect])
        self.opener = build_opener(*handlers)

    def send(self, path, body=None, headers=None):
        """Return (status, headers, body text); error statuses (and unfollowed redirects) are returned."""
        request = Request(self.base_url + path, data=body, headers=headers or {})  # noqa: S310 - http://127.0.0.1 only
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.headers, response.read().decode()
        except HTTPError as error:
            return error.code, error.headers, error.read().decode(errors="replace")
        except URLError as error:
            raise AssertionError(f"{path}: {error.reason}") from None

    def request(self, path, data=None, headers=None):
        """Return (status, body text) of a GET, or of a form POST when `data` is given."""
        body = urlencode(data, doseq=True).encode() if data is not None else None
        status, _, text = self.send(path, body, headers)
        return status, text

    def get(self, path, **headers):
        return self.request(path, headers=headers)

    def csrf_token(self):
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def post_form(self, path, fields):
        """GET the page for its CSRF cookie, then POST the form as a browser would."""
        self.get(path)
        fields = {**fields, "csrfmiddlewaretoken": self.csrf_token()}
        return self.request(path, fields, {"Referer": self.base_url + path})

    def post_file(self, path, fields, file_name, content, headers=None):
        """POST a multipart form with one file (no CSRF: for the API with a token)."""
        boundary = uuid.uuid4().hex
        head = f"--{boundary}\r\nContent-Disposition: form-data; "
        parts = [f'{head}name="{name}"\r\n\r\n{value}\r\n'.encode() for name, value in fields.items()]
        parts.append(f'{head}name="file"; filename="{file_name}"\r\nContent-Type: text/plain\r\n\r\n'.encode())
        parts.append(content + f"\r\n--{boundary}--\r\n".encode())
        content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.send(path, b"".join(parts), {**(headers or {}), **content_type})

    def log_in(self, username, password):
        status, page = self.post_form("/accounts/login/", {"username": username, "password": password})
        assert status == 200 and re.search(r'class="who">\s*' + re.escape(username), page), f"login failed: {status}"

    def force_log_in(self, user):
        """Sign in without the password (no hashing): a session made as the test client makes one."""
        client = Client()
        client.force_login(user)
        name, value = settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value
        host = urlsplit(self.base_url).hostname
        host = host if "." in host else f"{host}.local"  # how http.cookiejar names a dotless host
        self.cookies.set_cookie(
            Cookie(0, name, value, None, False, host, False, False, "/", True, False, None, False, None, None, {})
        )
        self.get("/accounts/tokens/")  # a page, for the CSRF cookie
