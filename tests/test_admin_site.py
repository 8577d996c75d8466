"""The Django admin (/admin/): domain models read-only, every change to users audited, sign-in throttled."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts import throttle
from accounts.models import AuditEvent
from incidents.models import ImportBatch, Incident
from labeling.actions import save_annotation
from labeling.models import Annotation, Decision, Option, Taxonomy
from tests.conftest import PASSWORD

# Every model of the app's domain the admin shows; a new registration is covered by default.
DOMAIN_MODELS = sorted(
    (model for model in admin.site._registry if model._meta.app_label in {"incidents", "labeling", "analytics"}),
    key=lambda model: model._meta.label,
)


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def decided(taxonomy, make_incident, alice):
    """An incident alice labeled 'timeout', so it has an annotation and a decision."""
    incident = make_incident()
    timeout = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    save_annotation(incident, timeout.dimension, alice, [timeout])
    return incident


@pytest.mark.parametrize("model", DOMAIN_MODELS, ids=lambda model: model._meta.label)
def test_the_admin_lists_domain_models_but_cannot_add_them(login, adam, model):
    client = login(adam)
    assert client.get(admin_url(model, "changelist")).status_code == 200
    assert client.get(admin_url(model, "add")).status_code == 403


def test_the_admin_shows_a_decision_but_cannot_change_its_option(login, adam, taxonomy, decided):
    decision = Decision.objects.get(incident=decided)
    foreign = Option.objects.filter(dimension__taxonomy=taxonomy).exclude(dimension=decision.dimension).first()
    url = admin_url(Decision, "change", decision.pk)
    client = login(adam)
    # given the admin can read the decision, without a save button
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    # when they post another dimension's option anyway
    response = client.post(url, {"option": foreign.pk, "dimension": decision.dimension_id, "method": decision.method})
    # then nothing changed
    assert response.status_code == 403
    decision.refresh_from_db()
    assert decision.option.key == "timeout"


def test_the_admin_cannot_delete_an_annotation_under_its_decision(login, adam, decided):
    annotation = decided.annotations.get()
    response = login(adam).post(admin_url(Annotation, "delete", annotation.pk), {"post": "yes"})
    assert response.status_code == 403
    assert Annotation.objects.filter(pk=annotation.pk).exists()


def test_the_admin_cannot_rename_an_option_in_place(login, adam, taxonomy):
    option = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    data = {"key": "timeout", "name": "Renamed", "dimension": option.dimension_id, "order": option.order}
    response = login(adam).post(admin_url(Option, "change", option.pk), data)
    assert response.status_code == 403
    option.refresh_from_db()
    assert option.name != "Renamed"
    assert list(Taxonomy.objects.filter(key=taxonomy.key).values_list("version", flat=True)) == [taxonomy.version]


@pytest.mark.parametrize(
    ("model", "make_row"),
    [
        (Incident, lambda make_incident: make_incident()),
        (ImportBatch, lambda make_incident: ImportBatch.objects.create(file_name="x.jsonl", format="jsonl")),
    ],
    ids=["incident", "import-batch"],
)
def test_the_admin_cannot_delete_incidents_or_import_batches(login, adam, make_incident, model, make_row):
    row = make_row(make_incident)
    client = login(adam)
    assert client.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    response = client.post(admin_url(model, "changelist"), {"action": "delete_selected", "_selected_action": [row.pk]})
    assert response.status_code == 200  # the changelist again: the action is not offered
    assert model.objects.filter(pk=row.pk).exists()


def posted_user(user, groups=None, flags=None, **fields):
    """The admin's user change form as a browser posts it, with `groups`, `flags` and `fields` changed."""
    joined = timezone.localtime(user.date_joined)
    flags = {"is_active": user.is_active, "is_staff": user.is_staff, "is_superuser": user.is_superuser, **(flags or {})}
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": f"{joined:%Y-%m-%d}",
        "date_joined_1": f"{joined:%H:%M:%S}",
        "groups": [group.pk for group in (user.groups.all() if groups is None else groups)],
        **{name: "on" for name, value in flags.items() if value},
        **fields,
    }


def access_events():
    return list(AuditEvent.objects.filter(target_type="auth.user").values_list("actor__username", "action", "changes"))


def test_a_role_given_in_the_admin_is_audited(login, adam, olga):
    admin_group = Group.objects.get_or_create(name="admin")[0]
    AuditEvent.objects.all().delete()
    # when adam makes olga an admin as well
    data = posted_user(olga, groups=[*olga.groups.all(), admin_group])
    response = login(adam).post(admin_url(get_user_model(), "change", olga.pk), data)
    # then she is one, and the audit log says who did it and what she held before
    assert response.status_code == 302
    assert set(olga.groups.values_list("name", flat=True)) == {"oncall", "admin"}
    assert access_events() == [
        ("adam", "user.access_changed", {"old": {"groups": ["oncall"]}, "new": {"groups": ["admin", "oncall"]}})
    ]


@pytest.mark.parametrize("flag", ["is_active", "is_staff", "is_superuser"])
def test_a_flag_changed_in_the_admin_is_audited(login, adam, olga, flag):
    old = getattr(olga, flag)
    AuditEvent.objects.all().delete()
    response = login(adam).post(
        admin_url(get_user_model(), "change", olga.pk), posted_user(olga, flags={flag: not old})
    )
    assert response.status_code == 302
    olga.refresh_from_db()
    assert getattr(olga, flag) is not old
    assert access_events() == [("adam", "user.access_changed", {"old": {flag: old}, "new": {flag: not old}})]


def test_a_change_that_grants_nothing_is_not_an_access_event(login, adam, olga):
    AuditEvent.objects.all().delete()
    response = login(adam).post(admin_url(get_user_model(), "change", olga.pk), posted_user(olga, first_name="Olga"))
    assert response.status_code == 302
    assert access_events() == []


def test_a_user_created_in_the_admin_is_audited(login, adam):
    AuditEvent.objects.all().delete()
    data = {"username": "nina", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"}
    response = login(adam).post(admin_url(get_user_model(), "add"), data)
    assert response.status_code == 302
    nina = get_user_model().objects.get(username="nina")
    new = {"groups": [], "user_permissions": [], "is_active": True, "is_staff": False, "is_superuser": False}
    assert access_events() == [("adam", "user.created", {"new": new})]
    assert AuditEvent.objects.get().target_id == str(nina.pk)


def test_users_deleted_in_the_admin_are_audited_one_by_one(login, adam, olga, maria):
    AuditEvent.objects.all().delete()
    client = login(adam)
    User = get_user_model()
    # when adam deletes olga from her page and maria through the "delete selected" action
    assert client.post(admin_url(User, "delete", olga.pk), {"post": "yes"}).status_code == 302
    action = {"action": "delete_selected", "_selected_action": [maria.pk], "post": "yes"}
    assert client.post(admin_url(User, "changelist"), action).status_code == 302
    # then both are gone, each with an event naming what they held
    assert not User.objects.filter(username__in=["olga", "maria"]).exists()
    held = {"user_permissions": [], "is_active": True, "is_staff": False, "is_superuser": False}
    assert list(AuditEvent.objects.order_by("id").values_list("actor__username", "action", "target_id", "changes")) == [
        ("adam", "user.deleted", str(olga.pk), {"old": {"groups": ["oncall"], **held}}),
        ("adam", "user.deleted", str(maria.pk), {"old": {"groups": ["manager"], **held}}),
    ]


def test_failed_admin_sign_ins_are_throttled(client, adam):
    url = reverse("admin:login")
    for _ in range(throttle.FREE_ATTEMPTS):
        client.post(url, {"username": "adam", "password": "guess", "next": "/admin/"})
    response = client.post(url, {"username": "adam", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lock_set_by_the_app_login_holds_on_the_admin_login(client, adam):
    for _ in range(throttle.FREE_ATTEMPTS):
        client.post(reverse("accounts:login"), {"username": "adam", "password": "wrong"})
    response = client.post(reverse("admin:login"), {"username": "adam", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_admin_login_still_signs_staff_in_and_keeps_others_out(client, adam, olga):
    url = reverse("admin:login")
    assert client.post(url, {"username": "olga", "password": PASSWORD, "next": "/admin/"}).status_code == 200
    assert client.post(url, {"username": "adam", "password": PASSWORD, "next": "/admin/"}).status_code == 302
