from django.shortcuts import render

from accounts.roles import READERS, Role, role_required
from incidents.queries import get_incident_for_user
from labeling.forms import SimilarSearchForm
from labeling.queries import count_decided_incidents, list_active_taxonomies, list_labels_of, search_similar_by_text

SIMILAR_RESULTS = 10


@role_required(Role.ANALYST, Role.ADMIN)
def label_home(request):
    """Each active taxonomy with how much of the incident base is decided."""
    rows = []
    for taxonomy in list_active_taxonomies():
        decided, total = count_decided_incidents(taxonomy)
        rows.append({"taxonomy": taxonomy, "decided": decided, "total": total, "undecided": total - decided})
    return render(request, "labeling/home.html", {"rows": rows})


@role_required(*READERS)
def incident_labels(request, pk):
    """The labels panel of an incident page (an htmx partial)."""
    incident = get_incident_for_user(request.user, pk)
    return render(request, "labeling/_incident_labels.html", {"incident": incident, "labels": list_labels_of(incident)})


@role_required(*READERS)
def similar(request):
    """Find past incidents like a symptom the on-call engineer types."""
    form = SimilarSearchForm(request.GET or None)
    results = []
    if form.is_valid():
        results = search_similar_by_text(request.user, form.cleaned_data["q"], limit=SIMILAR_RESULTS)
    return render(request, "labeling/similar.html", {"form": form, "results": results})
