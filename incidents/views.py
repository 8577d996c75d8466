from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from accounts.roles import READERS, Role, role_required
from incidents import exporters, imports
from incidents.filters import IncidentFilterSet
from incidents.forms import ExportForm, ImportForm
from incidents.queries import get_incident_for_user, incidents_visible_to, list_services

INCIDENTS_PER_PAGE = 50
# Recent imports listed under the upload form.
RECENT_BATCHES = 10


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


@role_required(Role.ADMIN)
def import_upload(request):
    """Upload an incident file; the import runs on a worker and its page shows progress."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        batch = imports.create_import_batch(
            file_name=upload.name,
            content=upload.read(),
            fmt=form.cleaned_data["format"],
            source=form.cleaned_data["source"],
            user=request.user,
        )
        imports.enqueue_import_batch(batch)
        return redirect(batch)
    batches = imports.list_import_batches()[:RECENT_BATCHES]
    context = {"form": form, "batches": batches, "max_bytes": settings.IMPORT_MAX_BYTES}
    return render(request, "incidents/import.html", context)


@role_required(Role.ADMIN)
def import_batch_detail(request, pk):
    """One import's progress, counts and errors; htmx polls the partial until it finishes."""
    batch = get_object_or_404(imports.list_import_batches(), pk=pk)
    template = "incidents/_import_batch.html" if request.headers.get("HX-Request") else "incidents/import_batch.html"
    return render(request, template, {"batch": batch})


@role_required(Role.MANAGER, Role.ADMIN)
def incident_export(request):
    """Download the incidents the list's filters select, as CSV or JSON lines, labels included."""
    filterset = IncidentFilterSet(request.GET, queryset=incidents_visible_to(request.user))
    form = ExportForm(request.GET)
    if not (filterset.is_valid() and form.is_valid()):
        errors = {**filterset.errors, **form.errors}
        return HttpResponseBadRequest("; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items()))
    fmt = form.cleaned_data["format"]
    incidents = filterset.qs
    label_columns = imports.list_label_columns(incidents)
    write = exporters.csv_lines if fmt == "csv" else exporters.jsonl_lines
    response = StreamingHttpResponse(
        write(imports.iter_export_records(incidents), label_columns), content_type=exporters.CONTENT_TYPES[fmt]
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="incidents-{stamp}.{fmt}"'
    return response
