"""The four roles of PRODUCT.md §6, held as Django groups, and the checks that use them."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db import models


class Role(models.TextChoices):
    ANALYST = "analyst", "Analyst"
    ONCALL = "oncall", "On-call engineer"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"


# Who may read incidents and search for similar ones: everyone with a role.
READERS = (Role.ANALYST, Role.ONCALL, Role.MANAGER, Role.ADMIN)


def roles_of(user):
    """Return the set of role names a user holds; superusers hold every role."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(Role.values)
    cached = getattr(user, "_triage_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        user._triage_roles = cached
    return cached


def display_roles(user):
    """The roles to show beside a user's name: superusers are simply admins."""
    if user.is_superuser:
        return [Role.ADMIN.value]
    return sorted(roles_of(user))


def has_role(user, *roles):
    return bool(roles_of(user) & set(roles))


def role_required(*roles):
    """Let a view through only for users holding one of `roles`; others get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
