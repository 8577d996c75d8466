from accounts.roles import display_roles, roles_of


def roles(request):
    """Expose the user's roles to templates, so navigation shows only what they may open."""
    return {"user_roles": roles_of(request.user), "user_role_names": display_roles(request.user)}


def worker_health(request):
    """Warn signed-in users when no worker has been seen lately (imports and embeddings wait)."""
    if not request.user.is_authenticated:
        return {}
    from config.health import worker_status

    return {"worker_status": worker_status()}
