import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.forms import AuditFilterForm, TokenForm
from accounts.models import ApiToken, AuditEvent
from accounts.roles import Role, role_required
from config.spreadsheet import safe_row

AUDIT_EVENTS_PER_PAGE = 100


@login_required
def tokens(request):
    """The user's API tokens; a new one is shown once, right after it is made."""
    form = TokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        token, new_key = ApiToken.issue(request.user, form.cleaned_data["name"])
        audit.record(request.user, "token.created", token, f"API token {token.prefix}… created for {request.user}")
        form = TokenForm()
    return render(
        request,
        "accounts/tokens.html",
        {"form": form, "tokens": request.user.api_tokens.all(), "new_key": new_key},
    )


@require_POST
@login_required
def revoke_token(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    token.revoke()
    audit.record(request.user, "token.revoked", token, f"API token {token.prefix}… revoked")
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("accounts:tokens")


def _filtered_events(form):
    events = AuditEvent.objects.select_related("actor")
    if form.is_valid():
        if form.cleaned_data["target_type"]:
            events = events.filter(target_type__icontains=form.cleaned_data["target_type"])
        if form.cleaned_data["actor"]:
            events = events.filter(actor__username=form.cleaned_data["actor"])
        if form.cleaned_data["since"]:
            events = events.filter(created_at__date__gte=form.cleaned_data["since"])
    return events


@role_required(Role.ADMIN)
def audit_log(request):
    form = AuditFilterForm(request.GET)
    page = Paginator(_filtered_events(form), AUDIT_EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "accounts/audit.html", {"form": form, "page": page, "query": request.GET.urlencode()})


class _Echo:
    def write(self, value):
        return value


@role_required(Role.ADMIN)
def audit_csv(request):
    """The filtered audit log as CSV, streamed so a long history needs no memory."""
    writer = csv.writer(_Echo())
    events = _filtered_events(AuditFilterForm(request.GET)).iterator(chunk_size=2000)
    header = ["when", "who", "action", "target_type", "target_id", "summary", "changes"]
    rows = (
        [event.created_at.isoformat(), event.actor.username if event.actor else "", event.action,
         event.target_type, event.target_id, event.summary, event.changes]
        for event in events
    )  # fmt: skip
    response = StreamingHttpResponse(_csv_lines(writer, header, rows), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="triage-audit.csv"'
    return response


def _csv_lines(writer, header, rows):
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(safe_row(row))
