from accounts.roles import display_roles, roles_of


def roles(request):
    """Expose the user's roles to templates, so navigation shows only what they may open."""
    return {"user_roles": roles_of(request.user), "user_role_names": display_roles(request.user)}
