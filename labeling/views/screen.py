"""The labeling screen: one incident at a time, suggestions with evidence, keyboard first."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts.roles import Role, role_required
from incidents.queries import get_incident_for_user
from labeling.actions import LabelError, save_annotation
from labeling.forms import AnnotationForm, BulkApplyForm, QueueFilterForm
from labeling.models import Taxonomy
from labeling.queue import (
    QueueOrder,
    adjudication_queue,
    annotations_of,
    can_adjudicate,
    disputed_dimension_ids,
    labeling_queue,
    my_current_values,
    next_in_queue,
    suggestions_for,
)
from labeling.similarity import find_similar_to_incident

# Similar undecided incidents the bulk action offers unless the analyst asks for more.
BULK_DEFAULT_COUNT = 10
# Incidents skipped in this browser session stay out of that taxonomy's queue for the
# session only, or until the analyst brings them back.
SKIPPED_SESSION_KEY = "labeling_skipped:{taxonomy}"
MAX_SKIPPED = 500


def _active_taxonomy(key):
    return get_object_or_404(Taxonomy.objects.prefetch_related("dimensions__options"), key=key, active=True)


def _skipped_key(taxonomy):
    return SKIPPED_SESSION_KEY.format(taxonomy=taxonomy.key)


def _order(filters):
    return filters.get("order") or QueueOrder.CONFIDENCE


def _queue(request, taxonomy, filters):
    skipped = request.session.get(_skipped_key(taxonomy), [])
    return labeling_queue(taxonomy, request.user, _order(filters), filters).exclude(pk__in=skipped)


def _queue_url(taxonomy, filters, incident_id=None):
    params = {key: value for key, value in filters.items() if value not in (None, "") and key != "incident"}
    if incident_id:
        params["incident"] = incident_id
    return f"{reverse('labeling:screen', args=[taxonomy.key])}?{urlencode(params)}"


@role_required(Role.ANALYST, Role.ADMIN)
def label_screen(request, key):
    taxonomy = _active_taxonomy(key)
    filter_form = QueueFilterForm(request.GET)
    filter_form.is_valid()  # a bad filter is shown as an error; the valid ones still apply
    filters = filter_form.cleaned_data
    queue = _queue(request, taxonomy, filters)
    requested = filters.get("incident")
    if requested:
        incident = get_incident_for_user(request.user, requested)
        next_incident = next_in_queue(queue, incident, list(taxonomy.dimensions.all()), _order(filters))
    else:  # the queue's head and the one after it, in one query
        incident, next_incident = [*queue[:2], None, None][:2]
    if incident is None:
        skipped = len(request.session.get(_skipped_key(taxonomy), []))
        context = {"taxonomy": taxonomy, "filter_form": filter_form, "skipped": skipped}
        return render(request, "labeling/queue_empty.html", context)
    return render(
        request,
        "labeling/screen.html",
        {
            "taxonomy": taxonomy,
            "incident": incident,
            "updates": incident.updates.all(),
            "panels": _dimension_panels(taxonomy, incident, request.user),
            "filter_form": filter_form,
            "remaining": queue.count(),
            "next_url": _queue_url(taxonomy, filters, next_incident.pk if next_incident else None),
            "here_url": _queue_url(taxonomy, filters, incident.pk),
            "skip_url": reverse("labeling:skip", args=[taxonomy.key, incident.pk]),
        },
    )


def _dimension_panels(taxonomy, incident, analyst):
    """Per dimension: numbered top-level options with their children, the suggestions, my value."""
    suggestions = suggestions_for(incident, taxonomy)
    mine = my_current_values(incident, taxonomy, analyst)
    panels = []
    for dimension in taxonomy.dimensions.all():
        options = list(dimension.options.all())
        children = {}
        for option in options:
            children.setdefault(option.parent_id, []).append(option)
        ranked = suggestions.get(dimension.pk, [])
        panels.append(
            {
                "dimension": dimension,
                "top_options": [(option, children.get(option.pk, [])) for option in children.get(None, [])],
                "suggestion": ranked[0] if ranked else None,
                "alternatives": ranked[1:],
                "chosen": mine.get(dimension.pk, []),
            }
        )
    return panels


@require_POST
@role_required(Role.ANALYST, Role.ADMIN)
def save_labels(request, key, pk):
    """Save the analyst's values for every dimension given, then go to the next incident."""
    taxonomy = _active_taxonomy(key)
    incident = get_incident_for_user(request.user, pk)
    form = AnnotationForm(taxonomy, request.POST)
    next_url = request.POST.get("next") or reverse("labeling:screen", args=[taxonomy.key])
    # A refused save shows the incident again with the analyst's queue filters.
    here_url = request.POST.get("here") or _queue_url(taxonomy, {}, incident.pk)
    if not form.is_valid():
        messages.error(request, " ".join(form.non_field_errors()) or form.errors.as_text())
        return redirect(_safe_next(here_url, taxonomy))
    try:
        for dimension, options in form.chosen_options():
            save_annotation(incident, dimension, request.user, options)
    except LabelError as error:
        messages.error(request, str(error))
        return redirect(_safe_next(here_url, taxonomy))
    messages.success(request, f"Saved labels of “{incident.title[:80]}”.")
    return redirect(_safe_next(next_url, taxonomy))


@require_POST
@role_required(Role.ANALYST, Role.ADMIN)
def skip_incident(request, key, pk):
    taxonomy = _active_taxonomy(key)
    skipped = request.session.get(_skipped_key(taxonomy), [])
    request.session[_skipped_key(taxonomy)] = [*skipped[-MAX_SKIPPED:], pk]
    return redirect(_safe_next(request.POST.get("next", ""), taxonomy))


@require_POST
@role_required(Role.ANALYST, Role.ADMIN)
def unskip_incidents(request, key):
    """Put the incidents skipped in this session back into the taxonomy's queue."""
    taxonomy = _active_taxonomy(key)
    request.session.pop(_skipped_key(taxonomy), None)
    return redirect("labeling:screen", key=taxonomy.key)


def _safe_next(url, taxonomy):
    """Only follow `next` within this taxonomy's screen, never to another site."""
    base = reverse("labeling:screen", args=[taxonomy.key])
    if not url.startswith(base):
        raise Http404("Unexpected next page.")
    return url


@role_required(Role.ANALYST, Role.ADMIN)
def adjudication_list(request, key):
    """Disagreements waiting for a ruling, with every annotator's value side by side."""
    taxonomy = _active_taxonomy(key)
    if not can_adjudicate(request.user, taxonomy):
        raise PermissionDenied("Only admins and this taxonomy's adjudicators settle disagreements.")
    entries = []
    for incident, dimension in adjudication_queue(taxonomy):
        annotations = annotations_of(incident, dimension)
        proposed = {option.pk: option for annotation in annotations for option in annotation.options.all()}
        entries.append(
            {"incident": incident, "dimension": dimension, "annotations": annotations, "options": proposed.values()}
        )
    return render(request, "labeling/adjudication.html", {"taxonomy": taxonomy, "entries": entries})


@require_POST
@role_required(Role.ANALYST, Role.ADMIN)
def adjudicate(request, key, pk):
    taxonomy = _active_taxonomy(key)
    if not can_adjudicate(request.user, taxonomy):
        raise PermissionDenied("Only admins and this taxonomy's adjudicators settle disagreements.")
    incident = get_incident_for_user(request.user, pk)
    form = AnnotationForm(taxonomy, request.POST)
    if not form.is_valid():
        messages.error(request, form.errors.as_text())
        return redirect("labeling:adjudication", key=taxonomy.key)
    chosen = form.chosen_options()
    # A ruling settles a disagreement. Anywhere else it would decide over a blind label
    # still waiting for its second annotator, and so show it to everyone.
    disputed = disputed_dimension_ids(incident, taxonomy)
    undisputed = [dimension.name for dimension, _ in chosen if dimension.pk not in disputed]
    if undisputed:
        messages.error(
            request, f"“{incident.title[:80]}” has no disagreement to settle on {', '.join(undisputed)}; nothing saved."
        )
        return redirect("labeling:adjudication", key=taxonomy.key)
    for dimension, options in chosen:
        save_annotation(incident, dimension, request.user, options, adjudication=True)
    messages.success(request, f"Decided “{incident.title[:80]}”.")
    return redirect("labeling:adjudication", key=taxonomy.key)


@role_required(Role.ANALYST, Role.ADMIN)
def bulk_apply(request, key, pk):
    """Preview, then apply, one value to the incidents most similar to this one that lack it."""
    taxonomy = _active_taxonomy(key)
    incident = get_incident_for_user(request.user, pk)
    data = request.POST if request.method == "POST" else request.GET
    form = BulkApplyForm(data)
    if not form.is_valid():
        raise Http404("Say which dimension and option to apply.")
    dimension = get_object_or_404(taxonomy.dimensions, key=form.cleaned_data["dimension"])
    option = get_object_or_404(dimension.options, key=form.cleaned_data["option"])
    count = form.cleaned_data.get("count") or BULK_DEFAULT_COUNT
    open_to_me = {"open_to": (request.user, dimension)}
    candidates = find_similar_to_incident(request.user, incident, filters=open_to_me, k=count)
    if request.method == "POST":
        chosen = set(form.cleaned_data["incidents"]) & {result.incident.pk for result in candidates}
        for result in candidates:
            if result.incident.pk in chosen:
                save_annotation(result.incident, dimension, request.user, [option])
        messages.success(request, f"Applied “{option.name}” to {len(chosen)} similar incidents.")
        return redirect(_queue_url(taxonomy, {}, incident.pk))
    context = {"taxonomy": taxonomy, "incident": incident, "dimension": dimension, "option": option}
    return render(request, "labeling/bulk_apply.html", {**context, "candidates": candidates, "count": count})
