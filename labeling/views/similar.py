"""Similar-incident search pages: the Similar page, the incident panel, result feedback."""

from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_POST

from accounts.roles import READERS, role_required
from incidents.queries import get_incident_for_user
from labeling.actions import record_similarity_feedback
from labeling.forms import SimilarFilterForm, SimilarityFeedbackForm, SimilarTextForm
from labeling.similarity import find_similar, find_similar_to_incident


@role_required(*READERS)
def similar(request):
    """Find past incidents like a symptom the on-call engineer types (live, via htmx)."""
    form = SimilarTextForm(request.GET or None)
    results = None
    if form.is_valid():
        results = find_similar(request.user, text=form.cleaned_data["q"], **_search_args(form))
    template = "labeling/_similar_results.html" if request.headers.get("HX-Request") else "labeling/similar.html"
    return render(request, template, {"form": form, "results": results, "query_text": form.data.get("q", "")})


@role_required(*READERS)
def incident_similar(request, pk):
    """The "Similar incidents" panel of an incident page (an htmx partial)."""
    incident = get_incident_for_user(request.user, pk)
    form = SimilarFilterForm(request.GET)
    results = find_similar_to_incident(request.user, incident, **_search_args(form)) if form.is_valid() else []
    return render(request, "labeling/_similar_results.html", {"form": form, "results": results, "source": incident})


@require_POST
@role_required(*READERS)
def similarity_feedback(request):
    form = SimilarityFeedbackForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    result = get_incident_for_user(request.user, form.cleaned_data["result"])
    source_pk = form.cleaned_data.get("source_incident")
    source = get_incident_for_user(request.user, source_pk) if source_pk else None
    feedback = record_similarity_feedback(
        request.user, result, form.cleaned_data["useful"], source, form.cleaned_data.get("query_text") or ""
    )
    return render(request, "labeling/_feedback_done.html", {"feedback": feedback})


def _search_args(form):
    filters = form.search_filters()
    return {"k": filters.pop("k"), "filters": filters}
