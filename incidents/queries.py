"""Reads of incidents reused by pages, the API and the analytics."""

from django.shortcuts import get_object_or_404

from accounts.roles import READERS, has_role
from incidents.models import Incident


def incidents_visible_to(user):
    """Incidents a user may read: all of them for every role, none without one."""
    if not has_role(user, *READERS):
        return Incident.objects.none()
    return Incident.objects.all()


def get_incident_for_user(user, pk):
    return get_object_or_404(incidents_visible_to(user), pk=pk)


def list_services():
    """Distinct service names, for filter drop-downs."""
    return list(Incident.objects.exclude(service="").order_by("service").values_list("service", flat=True).distinct())
