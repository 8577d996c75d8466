"""Real servers for the tests that need one: the app under gunicorn, and a plain HTTP client for it."""

import os
import re
import socket
import subprocess
import sys
import time
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit, urlunsplit
from urllib.request import HTTPCookieProcessor, Request, build_opener

from django.db import connection

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
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.log.close()


class HttpClient:
    """A cookie-keeping HTTP client that signs in through the login form and posts forms with CSRF."""

    def __init__(self, base_url, timeout=60):
        self.base_url = base_url
        self.timeout = timeout
        self.cookies = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.cookies))

    def request(self, path, data=None, headers=None):
        """Return (status, body text); redirects are followed, error statuses returned, not raised."""
        body = urlencode(data, doseq=True).encode() if data is not None else None
        request = Request(self.base_url + path, data=body, headers=headers or {})  # noqa: S310 - http://127.0.0.1 only
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read().decode()
        except HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except URLError as error:
            raise AssertionError(f"{path}: {error.reason}") from None

    def get(self, path, **headers):
        return self.request(path, headers=headers)

    def post_form(self, path, fields):
        """GET the page for its CSRF cookie, then POST the form as a browser would."""
        self.get(path)
        token = next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")
        return self.request(path, {**fields, "csrfmiddlewaretoken": token}, {"Referer": self.base_url + path})

    def log_in(self, username, password):
        status, page = self.post_form("/accounts/login/", {"username": username, "password": password})
        assert status == 200 and re.search(r'class="who">\s*' + re.escape(username), page), f"login failed: {status}"
