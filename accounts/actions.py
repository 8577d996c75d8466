"""Writes about users and their roles."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from accounts import audit
from accounts.roles import Role

# The demo team `make run` creates on first start: one login per role.
DEMO_USERS = [
    ("admin", Role.ADMIN),
    ("analyst", Role.ANALYST),
    ("analyst2", Role.ANALYST),
    ("oncall", Role.ONCALL),
    ("manager", Role.MANAGER),
]


@transaction.atomic
def create_user_with_role(username, role, password=None, *, is_staff=None):
    """Create (or fetch) a user in the group of `role`; return (user, created)."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.is_staff = role == Role.ADMIN if is_staff is None else is_staff
        user.is_superuser = role == Role.ADMIN
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    # get_or_create: a test database flushed between browser tests loses the migration's groups.
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    if created:
        audit.record(None, "user.created", user, f"user {username} created with role {role}")
    return user, created


def create_demo_users():
    """Create the demo team; return {username: password} for the users created just now."""
    created_logins = {}
    for username, role in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        _, created = create_user_with_role(username, role, password)
        if created:
            created_logins[username] = password
    return created_logins
