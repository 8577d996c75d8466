"""Dashboard pages, chart CSV exports and the incidents behind a bar: thin adapters over analytics.queries."""

import csv

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.roles import has_role
from analytics.dashboards import DASHBOARDS, LABELING_HEALTH, MANAGERS, ChartContext, dashboards_for
from analytics.forms import FILTER_NAMES, DashboardFilterForm, DashboardOptionsForm, DrillDownForm
from analytics.queries import incidents_behind, load_layout
from analytics.queries.trends import drilled
from config.spreadsheet import safe_row

INCIDENTS_PER_PAGE = 50


def _require_any_dashboard(request):
    if not has_role(request.user, *MANAGERS, *LABELING_HEALTH):
        raise PermissionDenied("Your role does not give access to the dashboards.")


def _board_for(request, key):
    board = DASHBOARDS.get(key)
    if board is None:
        raise Http404("No such dashboard.")
    if not board.visible_to(request.user):
        raise PermissionDenied("Your role does not give access to this dashboard.")
    return board


def _filter_query(request):
    """The filter part of the query string, carried into tabs, CSV links and drill-downs."""
    query = request.GET.copy()
    for name in list(query):
        if name not in FILTER_NAMES:
            query.pop(name)
    return query.urlencode()


def overview(request):
    """/dashboards/: the overview for managers; analysts land on labeling health, which is theirs."""
    _require_any_dashboard(request)
    if not DASHBOARDS["overview"].visible_to(request.user):
        query = request.GET.urlencode()
        return redirect(reverse("analytics:dashboard", args=["labeling"]) + (f"?{query}" if query else ""))
    return dashboard(request, "overview")


def dashboard(request, key):
    board = _board_for(request, key)
    filters, options = DashboardFilterForm(request.GET), DashboardOptionsForm(request.GET)
    valid = filters.is_valid() and options.is_valid()
    context = {
        "dashboard": board,
        "dashboards": dashboards_for(request.user),
        "filters": filters,
        "options": options,
        "filter_query": _filter_query(request),
        "charts": [],
        "printable": valid and options.cleaned_data["print"],
    }
    scope = filters.scope() if valid else None
    if scope is not None:
        charts_context = ChartContext(scope, load_layout(scope.taxonomy_id), options.cleaned_data)
        context["taxonomy"] = filters.chosen_taxonomy
        context["charts"] = [
            {
                "chart": chart,
                "figure": chart.figure(charts_context.data(chart.dataset), options.cleaned_data),
                "figure_id": f"figure-{chart.key}",
            }
            for chart in board.charts_for(request.user)
        ]
        context["layout"] = charts_context.layout
        context["loaded"] = charts_context.loaded
    status = 200 if valid else 400
    return render(request, f"analytics/{board.key}.html", context, status=status)


def chart_csv(request, key, chart_key):
    """The data of one chart as CSV, under the same filters as the page."""
    board = _board_for(request, key)
    chart = board.chart(chart_key)
    if chart is None:
        raise Http404("No such chart.")
    if not chart.visible_to(request.user):
        raise PermissionDenied("Your role does not give access to this chart.")
    filters, options = DashboardFilterForm(request.GET), DashboardOptionsForm(request.GET)
    if not (filters.is_valid() and options.is_valid()):
        return HttpResponseBadRequest(
            "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filters.errors.items())
        )
    scope = filters.scope()
    header, rows = (
        ([], [])
        if scope is None
        else chart.table(ChartContext(scope, load_layout(scope.taxonomy_id), options.cleaned_data).data(chart.dataset))
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{chart.key}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(safe_row(row) for row in rows)
    return response


def drill_down(request):
    """The incidents behind a bar: the dashboard filters plus a month and an option."""
    if not has_role(request.user, *MANAGERS):
        raise PermissionDenied("Your role does not give access to the dashboards.")
    filters, drill = DashboardFilterForm(request.GET), DrillDownForm(request.GET)
    valid = filters.is_valid() and drill.is_valid()
    scope = filters.scope() if valid else None
    incidents, layout = None, None
    if scope is not None:
        layout = load_layout(scope.taxonomy_id)
        data = drill.cleaned_data
        incidents = incidents_behind(scope, layout, data["month"], data["dimension"], data["option"])
    page = Paginator(incidents, INCIDENTS_PER_PAGE).get_page(request.GET.get("page")) if incidents is not None else None
    query_without_page = request.GET.copy()
    query_without_page.pop("page", None)
    context = {
        "query_without_page": query_without_page.urlencode(),
        "filters": filters,
        "drill": drill,
        "page": page,
        "option_name": _drilled_option_name(layout, drill) if valid else None,
        "filter_query": _filter_query(request),
        "dashboards": dashboards_for(request.user),
    }
    return render(request, "analytics/incidents.html", context, status=200 if valid else 400)


def _drilled_option_name(layout, drill):
    """The name of the option whose bar was clicked, or None when the key names none."""
    data = drill.cleaned_data
    if layout is None or not data.get("dimension"):
        return None
    name, _ = drilled(layout.dimension(data["dimension"]), data.get("option") or "")
    return name
