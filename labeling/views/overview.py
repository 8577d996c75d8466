"""Labeling overview pages: progress per taxonomy, an incident's labels panel, worker health."""

from django.shortcuts import render

from accounts.roles import READERS, Role, role_required
from incidents.queries import get_incident_for_user
from labeling import embeddings
from labeling.models import Embedding
from labeling.queries import (
    count_decided_incidents,
    incidents_with_stale_embeddings,
    list_active_taxonomies,
    list_embedding_workers,
    list_labels_of,
)
from labeling.queue import adjudication_queue, can_adjudicate


@role_required(Role.ANALYST, Role.ADMIN)
def label_home(request):
    """Each active taxonomy with how much of the incident base is decided."""
    rows = []
    for taxonomy in list_active_taxonomies():
        decided, total = count_decided_incidents(taxonomy)
        adjudicator = can_adjudicate(request.user, taxonomy)
        rows.append(
            {
                "taxonomy": taxonomy,
                "decided": decided,
                "total": total,
                "undecided": total - decided,
                "can_adjudicate": adjudicator,
                "disagreements": len(adjudication_queue(taxonomy)) if adjudicator else 0,
            }
        )
    return render(request, "labeling/home.html", {"rows": rows})


@role_required(*READERS)
def incident_labels(request, pk):
    """The labels panel of an incident page (an htmx partial)."""
    incident = get_incident_for_user(request.user, pk)
    return render(
        request,
        "labeling/_incident_labels.html",
        {"incident": incident, "labels": list_labels_of(incident, request.user)},
    )


@role_required(Role.ADMIN)
def health(request):
    """What the workers are doing: pending embeddings and where each worker runs the model."""
    context = {
        "pending_embeddings": incidents_with_stale_embeddings().count(),
        "embeddings": Embedding.objects.filter(model_name=embeddings.model_name()).count(),
        "model_name": embeddings.model_name(),
        "workers": list_embedding_workers(),
    }
    return render(request, "labeling/health.html", context)
