"""The banner when no worker is seen, and saving while the broker is down."""

import time

from django.urls import reverse

from config.health import HEARTBEAT_KEY, record_heartbeat, stale_after_seconds


def test_pages_warn_when_no_worker_was_seen(login, olga):
    response = login(olga).get(reverse("incidents:list"))
    assert "No worker has answered lately" in response.content.decode()


def test_no_banner_while_workers_beat(login, olga):
    record_heartbeat()
    response = login(olga).get(reverse("incidents:list"))
    assert "No worker has answered lately" not in response.content.decode()


def test_a_stale_heartbeat_warns_again(login, olga):
    from django.core.cache import cache

    cache.set(HEARTBEAT_KEY, time.time() - stale_after_seconds() - 1)
    assert "No worker has answered lately" in login(olga).get(reverse("incidents:list")).content.decode()


def test_an_unreachable_redis_shows_its_own_banner(settings, login, olga):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    response = login(olga).get(reverse("incidents:list"))
    assert response.status_code == 200
    assert "cannot be reached" in response.content.decode()


def test_saving_with_the_broker_down_still_succeeds(make_incident, django_capture_on_commit_callbacks):
    from config.celery import app
    from incidents.pipeline import request_embeddings

    saved_url, app.conf.broker_url = app.conf.broker_url, "redis://127.0.0.1:1/0"
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    app._pool = None
    try:
        incident = make_incident()
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            request_embeddings([incident.pk])
        elapsed = time.monotonic() - started
    finally:
        app.conf.broker_url = saved_url
        app.conf.task_always_eager = eager
        app._pool = None
    from labeling.queries import stale_embedding_incident_ids

    assert incident.pk in stale_embedding_incident_ids(limit=10)  # the sweep will catch it up
    assert elapsed < 15  # fails fast instead of retrying forever; the sweep catches up
