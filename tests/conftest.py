"""Shared fixtures: named actors (one per role, plus an outsider) and factories."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.actions import create_user_with_role
from accounts.roles import Role
from incidents.actions import refresh_search_documents
from incidents.models import Incident, IncidentUpdate
from labeling.actions import seed_default_taxonomy

pytest_plugins = ["tests.browser", "tests.servers"]

PASSWORD = "correct-horse-battery-staple"
_external_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Passwords hashed with MD5 in tests: the production hasher (PBKDF2, a million rounds) takes
    half a second a user on these cores, and most tests make one to three users. Child
    processes (gunicorn, workers) keep the real hashers, so a test that signs in to one by
    password makes that user in the child (createsuperuser) or signs in with force_log_in.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_cache(settings):
    """Each test gets an empty in-process cache: login-throttle counts must not leak between tests."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
    from django.core.cache import cache

    cache.clear()


def _user(username, role=None):
    if role is None:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.create_user(username, password=PASSWORD)
        return user
    user, _ = create_user_with_role(username, role, PASSWORD)
    return user


@pytest.fixture
def alice(db):
    """An analyst: labels incidents."""
    return _user("alice", Role.ANALYST)


@pytest.fixture
def bob(db):
    """A second analyst: labels blind for agreement."""
    return _user("bob", Role.ANALYST)


@pytest.fixture
def olga(db):
    """An on-call engineer: reads and searches."""
    return _user("olga", Role.ONCALL)


@pytest.fixture
def maria(db):
    """A manager: dashboards and exports."""
    return _user("maria", Role.MANAGER)


@pytest.fixture
def adam(db):
    """An admin."""
    return _user("adam", Role.ADMIN)


@pytest.fixture
def charlie(db):
    """An outsider: logged in, but holds no role."""
    return _user("charlie")


@pytest.fixture
def taxonomy(db):
    return seed_default_taxonomy()


@pytest.fixture
def make_incident(db):
    def make(updates=(), **overrides):
        started = overrides.pop("started_at", timezone.now() - timedelta(days=2))
        fields = {
            "source": "test",
            "external_id": f"INC-{next(_external_ids)}",
            "title": "Chat completions time out in us-east",
            "summary": "Requests to the chat endpoint timed out.",
            "postmortem": "## Root cause\nThe KV cache filled up and requests queued until timeout.",
            "severity": 1,
            "status": "resolved",
            "service": "chat-api",
            "model_name": "llama-70b",
            "modality": "text",
            "region": "us-east-1",
            "started_at": started,
            "detected_at": started + timedelta(minutes=4),
            "mitigated_at": started + timedelta(minutes=40),
            "resolved_at": started + timedelta(hours=2),
        }
        fields.update(overrides)
        incident = Incident.objects.create(**fields)
        for stage, minutes, body in updates:
            IncidentUpdate.objects.create(
                incident=incident, stage=stage, posted_at=started + timedelta(minutes=minutes), body=body
            )
        refresh_search_documents([incident.pk])
        return incident

    return make


@pytest.fixture
def login(client):
    """Log a user in on the test client and return the client."""

    def do_login(user):
        client.force_login(user)
        return client

    return do_login


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process (an upload's import, the embeddings it asks for), whatever
    earlier tests left in the app's configuration.

    The one way tests make tasks eager: overriding the CELERY_TASK_ALWAYS_EAGER setting does
    nothing once the app has read its configuration, and when it has not, it makes that read
    keep `True` for every later test, the worker tests included.
    """
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
