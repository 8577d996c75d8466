"""API tokens (shown once, stored hashed, revocable, with the user's role) and the audit log."""

import csv
import io

import pytest
from django.urls import reverse

from accounts import audit
from accounts.models import ApiToken, AuditEvent
from config.spreadsheet import safe_cell
from labeling.actions import save_annotation
from labeling.models import Option


def test_a_token_is_shown_once_and_stored_hashed(login, olga):
    response = login(olga).post(reverse("accounts:tokens"), {"name": "laptop"})
    key = response.context["new_key"]
    token = ApiToken.objects.get(user=olga)
    assert key not in str(token.__dict__)
    assert token.key_hash == ApiToken.hash_key(key)
    assert token.prefix == key[:8]
    assert key not in login(olga).get(reverse("accounts:tokens")).content.decode()


def test_a_token_acts_with_the_users_role_until_revoked(client, olga, make_incident):
    incident = make_incident()
    token, key = ApiToken.issue(olga, "script")
    headers = {"Authorization": f"Token {key}"}
    url = reverse("api:labeling-api:incident-similar", args=[incident.pk])
    assert client.get(url, headers=headers).status_code == 200
    token.revoke()
    assert client.get(url, headers=headers).status_code in {401, 403}
    assert client.get(url, headers={"Authorization": "Token not-a-token"}).status_code in {401, 403}


def test_a_token_of_a_user_without_role_opens_nothing(client, charlie, make_incident):
    incident = make_incident()
    _, key = ApiToken.issue(charlie, "script")
    url = reverse("api:labeling-api:incident-similar", args=[incident.pk])
    assert client.get(url, headers={"Authorization": f"Token {key}"}).status_code == 403


def test_users_revoke_only_their_own_tokens(login, olga, maria):
    token, _ = ApiToken.issue(olga, "script")
    assert login(maria).post(reverse("accounts:revoke-token", args=[token.pk])).status_code == 404
    assert login(olga).post(reverse("accounts:revoke-token", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.is_active is False


def test_label_changes_and_decisions_are_audited(taxonomy, make_incident, alice):
    incident = make_incident()
    timeout, crash = (Option.objects.get(dimension__taxonomy=taxonomy, key=key) for key in ("timeout", "crash"))
    save_annotation(incident, timeout.dimension, alice, [timeout])
    save_annotation(incident, timeout.dimension, alice, [crash])
    events = list(AuditEvent.objects.filter(actor=alice).order_by("id").values_list("action", "changes"))
    assert events == [
        ("annotation.saved", {"dimension": "category", "old": [], "new": ["timeout"]}),
        ("decision.changed", {"dimension": "category", "old": [], "new": ["timeout"], "method": "single"}),
        ("annotation.saved", {"dimension": "category", "old": ["timeout"], "new": ["crash"]}),
        ("decision.changed", {"dimension": "category", "old": ["timeout"], "new": ["crash"], "method": "single"}),
    ]


@pytest.mark.parametrize(("actor", "status"), [("adam", 200), ("alice", 403), ("maria", 403)])
def test_the_audit_log_is_for_admins(request, db, login, actor, status):
    user = request.getfixturevalue(actor)
    assert login(user).get(reverse("accounts:audit")).status_code == status
    assert login(user).get(reverse("accounts:audit-csv")).status_code == status


def test_the_audit_log_downloads_as_csv(login, adam, taxonomy, make_incident, alice):
    incident = make_incident()
    timeout = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    save_annotation(incident, timeout.dimension, alice, [timeout])
    response = login(adam).get(reverse("accounts:audit-csv"), {"actor": "alice"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "when,who,action,target_type,target_id,summary,changes"
    assert len(lines) == 3
    assert all(",alice,," not in line and ",alice," in line for line in lines[1:])


def test_failed_logins_slow_down_further_attempts(client, alice):
    from accounts import throttle
    from tests.conftest import PASSWORD

    url = reverse("accounts:login")
    for _ in range(throttle.FREE_ATTEMPTS):
        assert client.post(url, {"username": "alice", "password": "wrong"}).status_code == 200
    # then even the right password must wait
    response = client.post(url, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_successful_login_clears_the_failures(client, alice):
    from accounts import throttle
    from tests.conftest import PASSWORD

    url = reverse("accounts:login")
    for _ in range(throttle.FREE_ATTEMPTS - 1):
        client.post(url, {"username": "alice", "password": "wrong"})
    assert client.post(url, {"username": "alice", "password": PASSWORD}).status_code == 302
    assert throttle.seconds_to_wait("alice", "127.0.0.1") == 0


@pytest.mark.parametrize("spelling", ["\uff41lice", "\uff41\uff4c\uff49\uff43\uff45"])
def test_a_locked_account_stays_locked_under_another_spelling_of_its_name(client, alice, spelling):
    from accounts import throttle
    from tests.conftest import PASSWORD

    url = reverse("accounts:login")
    # given alice is locked by guesses from one address
    for _ in range(throttle.FREE_ATTEMPTS):
        client.post(url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    # when her right password comes from another address, with a name Django reads as "alice"
    response = client.post(url, {"username": spelling, "password": PASSWORD}, REMOTE_ADDR="10.0.0.2")
    # then the lock holds
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_post_without_a_password_does_not_clear_the_failures(client, alice):
    from accounts import throttle

    url = reverse("accounts:login")
    for _ in range(throttle.FREE_ATTEMPTS - 1):
        client.post(url, {"username": "alice", "password": "wrong"})
    client.post(url, {"username": "alice", "password": ""})
    client.post(url, {"username": "alice", "password": "wrong"})
    assert throttle.seconds_to_wait("alice", "10.0.0.2") > 0


def test_check_deploy_is_clean_with_production_settings():
    import os
    import subprocess
    import sys

    # The browser fixture sets DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; production never has it.
    env = {
        **{name: value for name, value in os.environ.items() if name != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x" * 20 + "production-secret-key-that-is-long-enough-1234",
        "DJANGO_SSL_REDIRECT": "true",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_HSTS_PRELOAD": "true",
        "DJANGO_ALLOWED_HOSTS": "triage.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_audit_csv_shows_formulas_as_text(login, adam):
    audit.record(adam, "note", None, '=HYPERLINK("http://example.invalid","open me")')
    audit.record(adam, "note", None, "plain words")
    response = login(adam).get(reverse("accounts:audit-csv"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    summaries = {row[5] for row in rows[1:]}
    assert '\'=HYPERLINK("http://example.invalid","open me")' in summaries
    assert "plain words" in summaries


@pytest.mark.parametrize(
    ("value", "written"),
    [("=1+2", "'=1+2"), ("+1", "'+1"), ("-cmd", "'-cmd"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
     ("a=b", "a=b"), ("", ""), (-3, -3), (0.5, 0.5), (None, None)],
)  # fmt: skip
def test_spreadsheet_cells_that_would_run_as_formulas_get_an_apostrophe(value, written):
    assert safe_cell(value) == written
