"""DRF permission classes built on the roles, one per kind of access (PRODUCT.md §6)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import READERS, Role, has_role


class HasRole(BasePermission):
    """Allow users holding one of `roles`; subclasses name them."""

    roles = ()

    def has_permission(self, request, view):
        return has_role(request.user, *self.roles)


class IsReader(HasRole):
    """Every role may read incidents and search them."""

    roles = READERS


class IsAnalyst(HasRole):
    roles = (Role.ANALYST, Role.ADMIN)


class IsManager(HasRole):
    roles = (Role.MANAGER, Role.ADMIN)


class IsAdmin(HasRole):
    roles = (Role.ADMIN,)


class ReadOrAdminWrite(BasePermission):
    """Readers may use safe methods; only admins may write."""

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return has_role(request.user, *READERS)
        return has_role(request.user, Role.ADMIN)
