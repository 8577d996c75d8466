"""The foundation: database extensions and indexes, constraints, roles and login on every page."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.roles import Role
from config.env import EnvError, env_bool, env_choice, env_int
from labeling.actions import seed_default_taxonomy
from labeling.models import Dimension, Option, Taxonomy


def test_pgvector_extension_is_installed(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        (version,) = cursor.fetchone()
    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 8)


def test_embeddings_have_an_hnsw_cosine_index(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'embedding_vector_hnsw'")
        (definition,) = cursor.fetchone()
    assert "USING hnsw" in definition
    assert "vector_cosine_ops" in definition


def test_role_groups_exist(db):
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"analyst", "oncall", "manager", "admin"}


def test_seeding_the_taxonomy_twice_creates_it_once(db):
    # when
    seed_default_taxonomy()
    seed_default_taxonomy()
    # then
    assert Taxonomy.objects.filter(key="llm-incidents").count() == 1
    category = Dimension.objects.get(taxonomy__key="llm-incidents", key="category")
    assert list(category.options.filter(parent=None).values_list("key", flat=True)) == [
        "inference_engine",
        "infrastructure",
        "model_configuration",
        "operational",
    ]
    assert Option.objects.filter(dimension=category).count() == 4 + 5 + 5 + 4 + 5
    assert Dimension.objects.get(taxonomy__key="llm-incidents", key="mitigation").multi is True


def test_every_default_option_has_a_one_sentence_description(taxonomy):
    for option in Option.objects.filter(dimension__taxonomy=taxonomy):
        assert option.description.endswith("."), option.key
        assert len(option.description) > 20, option.key


def test_timeout_is_a_subcategory_of_inference_engine(taxonomy):
    timeout = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    assert timeout.parent.key == "inference_engine"
    assert timeout.top_level.key == "inference_engine"


def test_duplicate_source_and_external_id_is_rejected(make_incident):
    make_incident(source="openai", external_id="abc")
    with pytest.raises(IntegrityError, match="incident_unique_source_external_id"), transaction.atomic():
        make_incident(source="openai", external_id="abc")
    # the same id from another source is a different incident
    make_incident(source="anthropic", external_id="abc")


@pytest.mark.parametrize(
    ("field", "constraint"),
    [
        ("detected_at", "incident_detected_after_start"),
        ("mitigated_at", "incident_mitigated_after_start"),
        ("resolved_at", "incident_resolved_after_start"),
    ],
)
def test_times_before_the_start_are_rejected(make_incident, field, constraint):
    from django.utils import timezone

    now = timezone.now()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        make_incident(started_at=now, **{field: now.replace(year=now.year - 1)})


def test_severity_outside_0_to_4_is_rejected(make_incident):
    with pytest.raises(IntegrityError, match="incident_severity_0_to_4"), transaction.atomic():
        make_incident(severity=5)


def test_derived_durations(make_incident):
    incident = make_incident()
    assert incident.time_to_detect.total_seconds() == 4 * 60
    assert incident.time_to_mitigate.total_seconds() == 40 * 60
    assert incident.time_to_resolve.total_seconds() == 2 * 3600
    annotated = type(incident).objects.with_durations().get(pk=incident.pk)
    assert annotated.ttm == incident.time_to_mitigate


@pytest.mark.parametrize(
    "url_name",
    ["incidents:list", "labeling:home", "labeling:similar", "analytics:overview", "home"],
)
def test_every_page_sends_anonymous_visitors_to_login(client, db, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_incident_pages_send_anonymous_visitors_to_login(client, make_incident):
    incident = make_incident()
    for url in [incident.get_absolute_url(), reverse("labeling:incident-labels", args=[incident.pk])]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login"))


def test_login_page_answers_anonymous_visitors(client, db):
    assert client.get(reverse("accounts:login")).status_code == 200


def test_login_with_password_then_logout(client, alice):
    from tests.conftest import PASSWORD

    response = client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("incidents:list")).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("incidents:list")).status_code == 302


@pytest.mark.parametrize(
    ("env", "parse", "message"),
    [
        ({"X": "maybe"}, lambda: env_bool("X"), "not a boolean"),
        ({"X": "ten"}, lambda: env_int("X", 1), "not an integer"),
        ({"X": "-1"}, lambda: env_int("X", 1, minimum=0), "below the minimum"),
        ({"X": "tpu"}, lambda: env_choice("X", "cpu", {"cpu", "cuda"}), "not one of"),
    ],
)
def test_settings_helpers_reject_bad_values(monkeypatch, env, parse, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(EnvError, match=message):
        parse()


def test_celery_queues_and_late_acks():
    from config.celery import app

    assert {queue.name for queue in app.conf.task_queues} == {"default", "embed"}
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert "sweep-stale-embeddings" in app.conf.beat_schedule


def test_demo_users_have_one_role_each(db):
    from accounts.actions import create_demo_users
    from accounts.roles import roles_of

    created = create_demo_users()
    assert set(created) == {"admin", "analyst", "analyst2", "oncall", "manager"}
    assert create_demo_users() == {}  # second run creates nobody
    from django.contrib.auth import get_user_model

    assert roles_of(get_user_model().objects.get(username="oncall")) == {Role.ONCALL}
