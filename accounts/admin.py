"""The Django admin: users, their roles (groups) and flags, which the app has no page for.

Every change to who may do what is written to the audit log here, as the app's own actions
do. The app's domain models are shown read-only (ReadOnlyAdminMixin), and the admin signs in
through the same login throttle as the app.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from accounts import audit
from accounts.login import ThrottledAdminAuthenticationForm

User = get_user_model()

# What decides what a user may do: roles are groups (accounts.roles); is_active lets them in,
# is_staff opens this admin, is_superuser and user_permissions grant rights in it.
ACCESS_FIELDS = ["groups", "user_permissions", "is_active", "is_staff", "is_superuser"]

admin.site.login_form = ThrottledAdminAuthenticationForm


class ReadOnlyAdminMixin:
    """List and show rows, never add, change or delete them.

    For models the app changes only through its own actions, which keep its rules and write the
    audit log; a plain ModelAdmin would skip both.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _as_json(value):
    """A flag as it is; groups or permissions as their sorted names."""
    return value if isinstance(value, bool) else sorted(str(item) for item in value)


def access_of(user):
    """Every access field of `user`, as the audit log stores them."""
    return {name: _as_json(User._meta.get_field(name).value_from_object(user)) for name in ACCESS_FIELDS}


def changed_access(form):
    """Old and new values of the access fields a user change form changed; empty if none."""
    changed = [name for name in ACCESS_FIELDS if name in form.changed_data]
    if not changed:
        return {}
    return {
        "old": {name: _as_json(form.initial[name]) for name in changed},
        "new": {name: _as_json(form.cleaned_data[name]) for name in changed},
    }


def record_deleted_user(actor, user):
    """Audit a deletion before it happens, while the user still has an id and roles to show."""
    audit.record(actor, "user.deleted", user, f"user {user} deleted", {"old": access_of(user)})


admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(UserAdmin):
    """Django's user admin, writing each new or deleted user and each access change to the audit log."""

    def save_related(self, request, form, formsets, change):
        # Groups are saved here, after the user: only now is the change complete.
        super().save_related(request, form, formsets, change)
        user = form.instance
        if not change:
            audit.record(request.user, "user.created", user, f"user {user} created", {"new": access_of(user)})
        elif changes := changed_access(form):
            summary = f"access of user {user} changed: {', '.join(changes['new'])}"
            audit.record(request.user, "user.access_changed", user, summary, changes)

    def delete_model(self, request, obj):
        record_deleted_user(request.user, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The "delete selected" action runs outside the change views' transaction.
        with transaction.atomic():
            for user in queryset:
                record_deleted_user(request.user, user)
            super().delete_queryset(request, queryset)
