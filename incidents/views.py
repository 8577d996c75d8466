from django.core.paginator import Paginator
from django.shortcuts import render

from accounts.roles import READERS, role_required
from incidents.filters import IncidentFilterSet
from incidents.queries import get_incident_for_user, incidents_visible_to, list_services

INCIDENTS_PER_PAGE = 50


@role_required(*READERS)
def incident_list(request):
    filterset = IncidentFilterSet(request.GET, queryset=incidents_visible_to(request.user).with_durations())
    page = Paginator(filterset.qs, INCIDENTS_PER_PAGE).get_page(request.GET.get("page"))
    query_without_page = request.GET.copy()
    query_without_page.pop("page", None)
    return render(
        request,
        "incidents/list.html",
        {
            "filter": filterset,
            "page": page,
            "services": list_services(),
            "query_without_page": query_without_page.urlencode(),
        },
    )


@role_required(*READERS)
def incident_detail(request, pk):
    incident = get_incident_for_user(request.user, pk)
    # Labels and similar incidents are panels served by the labeling app (loaded by htmx),
    # since labeling depends on incidents and not the other way round.
    return render(request, "incidents/detail.html", {"incident": incident, "updates": incident.updates.all()})
