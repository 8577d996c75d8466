from django.shortcuts import render

from accounts.roles import Role, role_required
from analytics.queries import category_share


@role_required(Role.MANAGER, Role.ADMIN, Role.ANALYST)
def overview(request):
    return render(request, "analytics/overview.html", {"share": category_share()})
