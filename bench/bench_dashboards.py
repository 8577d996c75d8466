"""Dashboards at 100,000 and 1,000,000 incidents: every chart's data and every page (PRODUCT.md §5).

Targets at 1M: each chart's data ≤ 300 ms, each page ≤ 1 s. Each size has its own database
(seeded once with `seed_demo`, topped up only when short, then its dashboard facts built);
reruns reuse them. Per chart: the median of RUNS loads of its dataset plus its figure, with no
filter and with a service and severity filter; per page: the median of RUNS full renders as a
manager. The plain decisions-join-incidents query the facts replace is timed for comparison.
Prints figures, asserts nothing.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django, timed

SIZES = [int(size) for size in os.environ.get("BENCH_DASHBOARD_SIZES", "100000,1000000").split(",")]
DATABASES = {1_000_000: "triage_bench_dashboards"}
RUNS = 3
# Share of decided incidents given model suggestions (seed_demo makes none), so the
# acceptance chart has trials to count.
SUGGESTED_SHARE = 0.05
PLAIN_CATEGORY_SQL = """
SELECT date_trunc('month', i.started_at), coalesce(o.parent_id, o.id), count(*)
FROM labeling_decision d JOIN incidents_incident i ON i.id = d.incident_id
JOIN labeling_option o ON o.id = d.option_id JOIN labeling_dimension dim ON dim.id = d.dimension_id
WHERE dim.key = 'category' GROUP BY 1, 2
"""


def database_for(size):
    return DATABASES.get(size, f"triage_bench_dashboards_{size // 1000}k")


def main():
    if len(sys.argv) > 1:
        return bench_size(int(sys.argv[1]))
    # One process per size: Django binds to one database per process.
    status = 0
    for size in SIZES:
        status |= subprocess.run([sys.executable, __file__, str(size)], check=False).returncode
    return status


def bench_size(size):
    setup_django(database=database_for(size))
    print(f"\n## {size:,} incidents (database {database_for(size)})", flush=True)
    seed_missing(size)
    add_suggestions()
    build_facts()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM incidents_incident")
        print(f"incidents: {cursor.fetchone()[0]:,}")
    time_plain_query()
    time_charts()
    time_pages()
    return 0


def seed_missing(size):
    from django.core.management import call_command

    from incidents.models import Incident

    missing = size - Incident.objects.count()
    if missing > 0:
        with timed(f"seed_demo --count {missing:,}", missing, "incidents"):
            call_command("seed_demo", count=missing)


def add_suggestions():
    """Top suggestions for SUGGESTED_SHARE of decided incidents, right 80% of the time (once)."""
    from django.db import connection

    from labeling.models import Suggestion

    if Suggestion.objects.exists():
        return
    with timed("suggestions for the acceptance chart"), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO labeling_suggestion (incident_id, dimension_id, option_id, score, model_version, evidence,
                                             created_at)
            SELECT d.incident_id, d.dimension_id,
                   CASE WHEN random() < 0.8 THEN d.option_id
                        ELSE (SELECT o.id FROM labeling_option o WHERE o.dimension_id = d.dimension_id
                              AND o.id <> d.option_id ORDER BY o.id LIMIT 1) END,
                   0.5 + random() / 2, 'bench', '[]', now()
            FROM (SELECT DISTINCT ON (incident_id, dimension_id) incident_id, dimension_id, option_id
                  FROM labeling_decision WHERE incident_id %% 1000 < %s ORDER BY incident_id, dimension_id, option_id) d
            ON CONFLICT DO NOTHING
            """,
            [int(SUGGESTED_SHARE * 1000)],
        )


def build_facts():
    """Build the facts when they do not cover every incident (a fresh or topped-up database)."""
    from analytics import actions
    from analytics.models import FactRefreshState
    from incidents.models import Incident
    from labeling.models import Annotation

    state = FactRefreshState.objects.filter(name=actions.STATE_NAME).first()
    high = Incident.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    annotations = Annotation.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    if state and state.incident_id_seen >= high and state.annotation_id_seen >= annotations:
        return
    count = Incident.objects.count()
    with timed("dashboard facts (refresh_all_facts)", count, "incidents"):
        actions.refresh_all_facts()


def median_ms(function):
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def time_plain_query():
    from django.db import connection

    def run():
        with connection.cursor() as cursor:
            cursor.execute(PLAIN_CATEGORY_SQL)
            cursor.fetchall()

    median, worst = median_ms(run)
    print(f"plain decisions x incidents category-by-month query: {median:.0f} ms (worst {worst:.0f})")


def scopes():
    from analytics.forms import DashboardFilterForm

    unfiltered = DashboardFilterForm({})
    filtered = DashboardFilterForm({"service": "chat-api", "severity": ["1", "2"]})
    assert unfiltered.is_valid() and filtered.is_valid(), (unfiltered.errors, filtered.errors)
    return {"no filter": unfiltered.scope(), "chat-api, SEV1-2": filtered.scope()}


def time_charts():
    from analytics.dashboards import DASHBOARDS, ChartContext
    from analytics.queries import load_layout

    chosen = scopes()
    layout = load_layout(chosen["no filter"].taxonomy_id)
    # Warm the figure code and the database caches once, like a running server.
    for board in DASHBOARDS.values():
        for chart in board.charts:
            chart.figure(ChartContext(chosen["no filter"], layout).data(chart.dataset), {})
    print(f"{'chart':<36}" + "".join(f"{name:>24}" for name in chosen) + "   (median / worst of 3, ms)")
    for board in DASHBOARDS.values():
        for chart in board.charts:
            cells = []
            for scope in chosen.values():

                def load(chart=chart, scope=scope):
                    chart.figure(ChartContext(scope, layout).data(chart.dataset), {})

                median, worst = median_ms(load)
                cells.append(f"{median:>15.0f} / {worst:>6.0f}")
            print(f"{board.key + '/' + chart.key:<36}" + "".join(f"{cell:>24}" for cell in cells), flush=True)


def time_pages():
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from accounts.actions import create_user_with_role
    from accounts.roles import Role
    from analytics.dashboards import DASHBOARDS

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    manager, _ = create_user_with_role("bench-dashboards-manager", Role.MANAGER)
    client = Client()
    client.force_login(manager)
    print(f"{'page':<36}{'median ms':>12}{'worst ms':>12}")
    for key in DASHBOARDS:
        url = reverse("analytics:dashboard", args=[key])
        client.get(url)
        median, worst = median_ms(lambda url=url: client.get(url))
        print(f"{key:<36}{median:>12.0f}{worst:>12.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
