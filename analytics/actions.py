"""Writes of the analytics app: rebuilding the dashboard facts from incidents and labels.

Every function here recomputes facts from the source tables, so running one twice, or two
at once, leaves the same rows: the upserts only rewrite rows whose values changed.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from analytics import metrics
from analytics.models import FactRefreshState, IncidentFact
from incidents.models import Incident
from labeling.models import Annotation, Option, Suggestion, Taxonomy

logger = logging.getLogger(__name__)

# Incidents per refresh statement: at 1M incidents one batch takes about a second (bench),
# short enough that a worker's run and its row locks stay brief.
REFRESH_BATCH = 5_000
# Changed rows of each source (new incidents, edited incidents, annotations, suggestions)
# taken per run; a bigger backlog (an import) continues in the run the task enqueues next.
CHANGES_PER_RUN = 20_000
# How long a run may hold the state row before another worker may take over (a dead worker).
CLAIM_LEASE = timedelta(minutes=10)
STATE_NAME = "dashboard-facts"

_FILTER_COLUMNS = (
    "started_on", "month", "severity", "service_id", "model_id", "modality_id", "region_id",
)  # fmt: skip
_FACT_COLUMNS = (
    *_FILTER_COLUMNS, "ttd_seconds", "ttm_seconds", "ttd_bin", "ttm_bin", "category_option_id",
    "detection_option_id", "mitigation_mask", "decided_dimensions",
)  # fmt: skip
_LABELER_COLUMNS = (*_FILTER_COLUMNS, "labeled_month")
_LABEL_COLUMNS = (
    *_FILTER_COLUMNS, "taxonomy_id", "first_option_id", "second_option_id", "top_suggestion_id", "top_accepted",
)  # fmt: skip
# Bins 2% wide (analytics.stats.DURATION_BINS_PER_E): box plots read counts and sums per bin.
_BIN = "floor(ln(greatest({seconds}, 1)) * 50)::smallint"


def _upsert_tail(table, conflict, columns):
    """ON CONFLICT ... DO UPDATE that rewrites a row only when one of `columns` changed."""
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)
    old = ", ".join(f"{table}.{column}" for column in columns)
    new = ", ".join(f"EXCLUDED.{column}" for column in columns)
    return f"ON CONFLICT ({conflict}) DO UPDATE SET {assignments} WHERE ({old}) IS DISTINCT FROM ({new})"


# Labels by people (imports included), never by the model: the same rule as
# labeling.actions.refresh_decision uses.
_HUMAN = "a.source <> 'model'"
_MONTH = "date_trunc('month', {column} AT TIME ZONE %(tz)s)::date"
# The incident's filter columns, in _FILTER_COLUMNS order; needs `i` and `codes` in scope.
_INCIDENT_FILTERS = f"""
    (i.started_at AT TIME ZONE %(tz)s)::date, {_MONTH.format(column="i.started_at")}, i.severity,
    codes.service, codes.model, codes.modality, codes.region"""
_CODES_JOIN = """
CROSS JOIN LATERAL (
    SELECT max(v.id) FILTER (WHERE v.field = 'service' AND v.value = i.service) AS service,
           max(v.id) FILTER (WHERE v.field = 'model_name' AND v.value = i.model_name) AS model,
           max(v.id) FILTER (WHERE v.field = 'modality' AND v.value = i.modality) AS modality,
           max(v.id) FILTER (WHERE v.field = 'region' AND v.value = i.region) AS region
    FROM analytics_filtervalue v
    WHERE (v.field, v.value) IN (('service', i.service), ('model_name', i.model_name),
                                 ('modality', i.modality), ('region', i.region))
) AS codes"""

FILTER_VALUES_SQL = """
INSERT INTO analytics_filtervalue (field, value)
SELECT DISTINCT v.field, v.value
FROM incidents_incident i,
     LATERAL (VALUES ('service', i.service), ('model_name', i.model_name), ('modality', i.modality),
                     ('region', i.region)) AS v(field, value)
WHERE i.id = ANY(%(ids)s) AND v.value <> ''
ON CONFLICT (field, value) DO NOTHING
"""

INCIDENT_FACTS_SQL = f"""
WITH dims AS (
    SELECT id, taxonomy_id, key FROM labeling_dimension WHERE taxonomy_id = ANY(%(taxonomies)s)
), bits AS (
    SELECT o.id, (row_number() OVER (PARTITION BY o.dimension_id ORDER BY o.id) - 1) AS bit
    FROM labeling_option o JOIN dims ON dims.id = o.dimension_id AND dims.key = %(mitigation)s
), decided AS (
    SELECT d.incident_id, dims.taxonomy_id,
           min(d.option_id) FILTER (WHERE dims.key = %(category)s) AS category,
           min(d.option_id) FILTER (WHERE dims.key = %(detection)s) AS detection,
           coalesce(bit_or(1::bigint << bits.bit::int) FILTER (WHERE bits.bit < 63), 0) AS mitigation,
           count(DISTINCT d.dimension_id) AS dimensions
    FROM labeling_decision d JOIN dims ON dims.id = d.dimension_id LEFT JOIN bits ON bits.id = d.option_id
    WHERE d.incident_id = ANY(%(ids)s)
    GROUP BY 1, 2
), timings AS (
    SELECT i.id, round(extract(epoch FROM i.detected_at - i.started_at))::bigint AS ttd,
           round(extract(epoch FROM i.mitigated_at - i.started_at))::bigint AS ttm
    FROM incidents_incident i WHERE i.id = ANY(%(ids)s)
)
INSERT INTO analytics_incidentfact (taxonomy_id, incident_id, {", ".join(_FACT_COLUMNS)})
SELECT t.id, i.id, {_INCIDENT_FILTERS},
       timings.ttd, timings.ttm, {_BIN.format(seconds="timings.ttd")}, {_BIN.format(seconds="timings.ttm")},
       dec.category, dec.detection, coalesce(dec.mitigation, 0), coalesce(dec.dimensions, 0)
FROM incidents_incident i
JOIN timings ON timings.id = i.id
{_CODES_JOIN}
CROSS JOIN unnest(%(taxonomies)s::bigint[]) AS t(id)
LEFT JOIN decided dec ON dec.incident_id = i.id AND dec.taxonomy_id = t.id
WHERE i.id = ANY(%(ids)s)
{_upsert_tail("analytics_incidentfact", "incident_id, taxonomy_id", _FACT_COLUMNS)}
"""  # noqa: S608 - built from module constants; every value is a parameter

LABELER_ROWS_SQL = f"""
SELECT a.incident_id, dims.taxonomy_id, a.annotator_id, min(a.created_at) AS first_at
FROM labeling_annotation a JOIN labeling_dimension dims ON dims.id = a.dimension_id
WHERE a.incident_id = ANY(%(ids)s) AND dims.taxonomy_id = ANY(%(taxonomies)s)
  AND {_HUMAN} AND a.annotator_id IS NOT NULL
GROUP BY 1, 2, 3
"""  # noqa: S608 - built from module constants; every value is a parameter

LABELER_FACTS_SQL = f"""
WITH wanted AS ({LABELER_ROWS_SQL}), removed AS (
    DELETE FROM analytics_labelerfact f
    WHERE f.incident_id = ANY(%(ids)s) AND NOT EXISTS (
        SELECT 1 FROM wanted w
        WHERE (w.incident_id, w.taxonomy_id, w.annotator_id) = (f.incident_id, f.taxonomy_id, f.annotator_id)
    )
)
INSERT INTO analytics_labelerfact (incident_id, taxonomy_id, annotator_id, {", ".join(_LABELER_COLUMNS)})
SELECT w.incident_id, w.taxonomy_id, w.annotator_id, {_INCIDENT_FILTERS}, {_MONTH.format(column="w.first_at")}
FROM wanted w JOIN incidents_incident i ON i.id = w.incident_id
{_CODES_JOIN}
{_upsert_tail("analytics_labelerfact", "incident_id, taxonomy_id, annotator_id", _LABELER_COLUMNS)}
"""  # noqa: S608 - built from module constants; every value is a parameter

LABEL_ROWS_SQL = f"""
WITH dims AS (
    SELECT id, taxonomy_id, multi FROM labeling_dimension WHERE taxonomy_id = ANY(%(taxonomies)s)
), votes AS (
    SELECT a.incident_id, a.dimension_id, dims.taxonomy_id, dims.multi,
           array_agg(ao.option_id ORDER BY ao.option_id) AS options,
           row_number() OVER (PARTITION BY a.incident_id, a.dimension_id ORDER BY a.created_at, a.id) AS rank
    FROM labeling_annotation a
    JOIN dims ON dims.id = a.dimension_id
    JOIN labeling_annotation_options ao ON ao.annotation_id = a.id
    WHERE a.incident_id = ANY(%(ids)s) AND a.is_current AND {_HUMAN} AND NOT a.is_adjudication
    GROUP BY a.id, dims.taxonomy_id, dims.multi
), tops AS (
    SELECT DISTINCT ON (s.incident_id, s.dimension_id) s.incident_id, s.dimension_id, s.option_id
    FROM labeling_suggestion s JOIN dims ON dims.id = s.dimension_id
    WHERE s.incident_id = ANY(%(ids)s)
    ORDER BY s.incident_id, s.dimension_id, s.score DESC, s.option_id
)
SELECT first.incident_id, first.dimension_id, first.taxonomy_id,
       CASE WHEN NOT first.multi THEN first.options[1] END AS first_option,
       CASE WHEN NOT first.multi THEN second.options[1] END AS second_option,
       tops.option_id AS top, tops.option_id = ANY(first.options) AS accepted
FROM votes first
LEFT JOIN votes second
       ON second.incident_id = first.incident_id AND second.dimension_id = first.dimension_id AND second.rank = 2
LEFT JOIN tops ON tops.incident_id = first.incident_id AND tops.dimension_id = first.dimension_id
WHERE first.rank = 1 AND ((NOT first.multi AND second.options IS NOT NULL) OR tops.option_id IS NOT NULL)
  -- Blind labeling: a lone first value waiting for its second annotator stays out, or the
  -- acceptance charts would tell the second analyst whether the first took the suggestion.
  AND (second.options IS NOT NULL OR EXISTS (
      SELECT 1 FROM labeling_decision d WHERE d.incident_id = first.incident_id AND d.dimension_id = first.dimension_id
  ))
"""  # noqa: S608 - built from module constants; every value is a parameter

LABEL_FACTS_SQL = f"""
WITH wanted AS ({LABEL_ROWS_SQL}), removed AS (
    DELETE FROM analytics_labelfact f
    WHERE f.incident_id = ANY(%(ids)s)
      AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.incident_id = f.incident_id AND w.dimension_id = f.dimension_id)
)
INSERT INTO analytics_labelfact (incident_id, dimension_id, {", ".join(_LABEL_COLUMNS)})
SELECT w.incident_id, w.dimension_id, {_INCIDENT_FILTERS}, w.taxonomy_id, w.first_option, w.second_option, w.top,
       w.accepted
FROM wanted w JOIN incidents_incident i ON i.id = w.incident_id
{_CODES_JOIN}
{_upsert_tail("analytics_labelfact", "incident_id, dimension_id", _LABEL_COLUMNS)}
"""  # noqa: S608 - built from module constants; every value is a parameter


OLD_MONTHS_SQL = "SELECT incident_id, taxonomy_id, month FROM analytics_incidentfact WHERE incident_id = ANY(%(ids)s)"
# Rollup rebuilds of the same months at once would insert the same cells twice: one at a time.
MONTHLY_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('analytics.monthlyfact'))"
_MONTHLY_COLUMNS = (
    "taxonomy_id, month, severity, category_option_id, detection_option_id, mitigation_mask, decided_dimensions"
)
_MONTHLY_GROUP = "1, 2, 3, 4, 5, 6, 7"
_MONTHLY_CELLS = "taxonomy_id = %(taxonomy)s AND month = ANY(%(months)s)"
MONTHLY_DELETE_SQL = "DELETE FROM analytics_monthlyfact WHERE taxonomy_id = %(taxonomy)s AND month = ANY(%(months)s)"
MONTHLY_INSERT_SQL = f"""
INSERT INTO analytics_monthlyfact ({_MONTHLY_COLUMNS}, incidents)
SELECT {_MONTHLY_COLUMNS}, count(*) FROM analytics_incidentfact
"""  # noqa: S608 - built from module constants


def fact_taxonomy_ids():
    """Taxonomies that get facts: every one with dimensions, old versions too (the version filter)."""
    with_dimensions = Taxonomy.objects.filter(dimensions__isnull=False).distinct().order_by("pk")
    return list(with_dimensions.values_list("pk", flat=True))


@transaction.atomic
def refresh_facts(incident_ids, taxonomy_ids=None, monthly=True):
    """Recompute the facts of these incidents from their fields, decisions, annotations and suggestions.

    Then the monthly rollup of every month whose facts changed, unless `monthly` is False (a
    bulk rebuild that redoes the whole rollup once at its end). Returns how many fact rows
    were written (unchanged rows are not rewritten).
    """
    ids = sorted(set(incident_ids))
    taxonomies = fact_taxonomy_ids() if taxonomy_ids is None else list(taxonomy_ids)
    if not ids or not taxonomies:
        return 0
    params = {
        "ids": ids,
        "taxonomies": taxonomies,
        "tz": settings.TIME_ZONE,
        "category": metrics.CATEGORY,
        "detection": metrics.DETECTION,
        "mitigation": metrics.MITIGATION,
    }
    with connection.cursor() as cursor:
        # Filter values first: the fact rows refer to them by id.
        cursor.execute(FILTER_VALUES_SQL, params)
        cursor.execute(OLD_MONTHS_SQL, params)
        before = {(incident, taxonomy): month for incident, taxonomy, month in cursor.fetchall()}
        cursor.execute(f"{INCIDENT_FACTS_SQL} RETURNING incident_id, taxonomy_id, month", params)
        changed = cursor.fetchall()
        cursor.execute(LABELER_FACTS_SQL, params)
        cursor.execute(LABEL_FACTS_SQL, params)
    # Facts of taxonomies that no longer have dimensions would only mislead.
    IncidentFact.objects.filter(incident_id__in=ids).exclude(taxonomy_id__in=taxonomies).delete()
    if monthly:
        touched = {(taxonomy, month) for _, taxonomy, month in changed}
        touched |= {
            (taxonomy, before[incident, taxonomy])
            for incident, taxonomy, _ in changed
            if (incident, taxonomy) in before
        }
        touched |= {(taxonomy, month) for (_, taxonomy), month in before.items() if taxonomy not in taxonomies}
        rebuild_monthly(touched)
    return len(changed)


def rebuild_monthly(cells):
    """Recount analytics.MonthlyFact for these (taxonomy id, month) pairs from the facts."""
    months = {}
    for taxonomy, month in cells:
        months.setdefault(taxonomy, set()).add(month)
    with connection.cursor() as cursor:
        if months:
            cursor.execute(MONTHLY_LOCK_SQL)
        for taxonomy, chosen in months.items():
            params = {"taxonomy": taxonomy, "months": sorted(chosen)}
            cursor.execute(MONTHLY_DELETE_SQL, params)
            cursor.execute(f"{MONTHLY_INSERT_SQL} WHERE {_MONTHLY_CELLS} GROUP BY {_MONTHLY_GROUP}", params)


def rebuild_all_monthly():
    """Recount the whole rollup: after a bulk build, and after each full pass (deleted incidents)."""
    with connection.cursor() as cursor:
        cursor.execute(MONTHLY_LOCK_SQL)
        cursor.execute("DELETE FROM analytics_monthlyfact")
        cursor.execute(f"{MONTHLY_INSERT_SQL} GROUP BY {_MONTHLY_GROUP}")
        cursor.execute("ANALYZE analytics_monthlyfact")


def refresh_facts_after(after_id, taxonomy_ids=None, limit=REFRESH_BATCH, monthly=True):
    """Refresh the next `limit` incidents by id after `after_id`; return their ids."""
    ids = list(Incident.objects.filter(pk__gt=after_id).order_by("pk").values_list("pk", flat=True)[:limit])
    if ids:
        refresh_facts(ids, taxonomy_ids, monthly=monthly)
    return ids


def refresh_all_facts(progress=None):
    """Rebuild the facts of every incident now, in bounded batches (manage.py refresh_dashboards, benches).

    Then refresh the planner's statistics, which a bulk build leaves stale (a first build
    would otherwise be planned as if the tables were empty).
    """
    taxonomies = fact_taxonomy_ids()
    marks = _current_marks(taxonomies)
    after_id, batches = 0, 0
    while ids := refresh_facts_after(after_id, taxonomies, monthly=False):
        after_id, batches = ids[-1], batches + 1
        if progress:
            progress(batches * REFRESH_BATCH, after_id)
    with transaction.atomic():
        rebuild_all_monthly()
    with connection.cursor() as cursor:
        for table in ("analytics_incidentfact", "analytics_labelerfact", "analytics_labelfact"):
            cursor.execute(f"ANALYZE {table}")
    # The periodic task need not repeat this pass: it goes on from what existed at the start.
    FactRefreshState.objects.get_or_create(name=STATE_NAME)
    FactRefreshState.objects.filter(name=STATE_NAME).update(**marks, catching_up=False, sweep_after_id=0)
    return batches


def _current_marks(taxonomies):
    """The state a full pass starting now leaves behind: everything up to now is folded in."""
    return {
        "incident_id_seen": Incident.objects.aggregate(high=Max("pk"))["high"] or 0,
        "annotation_id_seen": Annotation.objects.aggregate(high=Max("pk"))["high"] or 0,
        "suggestion_id_seen": Suggestion.objects.aggregate(high=Max("pk"))["high"] or 0,
        "changes_after": timezone.now(),
        "layout_fingerprint": _layout_fingerprint(taxonomies),
    }


@dataclass
class RefreshRun:
    """What one periodic run did, and whether work is left that the task should continue at once."""

    changed: int = 0
    swept_to: int | None = None
    more: bool = False
    claimed: bool = True


def _claim_state():
    """Take the state row for this run, or None when another worker holds it (conditional UPDATE)."""
    FactRefreshState.objects.get_or_create(name=STATE_NAME)
    now = timezone.now()
    claimed = (
        FactRefreshState.objects.filter(name=STATE_NAME)
        .exclude(claimed_until__gt=now)
        .update(claimed_until=now + CLAIM_LEASE)
    )
    return FactRefreshState.objects.get(name=STATE_NAME) if claimed == 1 else None


def refresh_dashboard_facts():
    """One periodic run: fold in recent changes, then refresh one batch of the full pass.

    Recent changes are found by state: incidents, annotations and suggestions past the ids
    already seen, incidents updated since the last run. Writes that slip past those marks
    (a decision deleted by hand, a transaction committing out of id order) are caught by the
    full pass, which walks every incident in id order, one batch per run, and wraps around.
    """
    state = _claim_state()
    if state is None:
        return RefreshRun(claimed=False)
    try:
        taxonomies = fact_taxonomy_ids()
        fingerprint = _layout_fingerprint(taxonomies)
        if fingerprint != state.layout_fingerprint:
            # A new taxonomy version has no facts yet, a removed option shifts the mask bits:
            # start a full pass now.
            state.catching_up, state.sweep_after_id = True, 0
        state.layout_fingerprint = fingerprint
        run = RefreshRun()
        with transaction.atomic():
            run.changed, backlog = _refresh_changes(state, taxonomies)
        with transaction.atomic():
            run.swept_to = _sweep_batch(state, taxonomies)
        run.more = backlog or state.catching_up
        return run
    finally:
        state.claimed_until = None
        state.save()


def _layout_fingerprint(taxonomies):
    """A hash of what the facts' layout depends on: the taxonomies and their mitigation options."""
    options = Option.objects.filter(dimension__taxonomy_id__in=taxonomies, dimension__key=metrics.MITIGATION)
    ids = list(options.order_by("dimension_id", "id").values_list("dimension_id", "id"))
    return hashlib.sha256(repr((taxonomies, ids)).encode()).hexdigest()


def _refresh_changes(state, taxonomies):
    """Refresh the incidents touched since the last run; return (how many, whether more are waiting)."""
    started = timezone.now()
    new = list(
        Incident.objects.filter(pk__gt=state.incident_id_seen)
        .order_by("pk")
        .values_list("pk", flat=True)[:CHANGES_PER_RUN]
    )
    edited = _edited_incident_ids(state.changes_after)
    annotated = list(
        Annotation.objects.filter(pk__gt=state.annotation_id_seen)
        .order_by("pk")
        .values_list("pk", "incident_id")[:CHANGES_PER_RUN]
    )
    suggested = list(
        Suggestion.objects.filter(pk__gt=state.suggestion_id_seen)
        .order_by("pk")
        .values_list("pk", "incident_id")[:CHANGES_PER_RUN]
    )
    ids = {*new, *edited, *(incident for _, incident in annotated), *(incident for _, incident in suggested)}
    for start in range(0, len(ids), REFRESH_BATCH):
        refresh_facts(sorted(ids)[start : start + REFRESH_BATCH], taxonomies)
    state.incident_id_seen = new[-1] if new else state.incident_id_seen
    state.annotation_id_seen = annotated[-1][0] if annotated else state.annotation_id_seen
    state.suggestion_id_seen = suggested[-1][0] if suggested else state.suggestion_id_seen
    state.changes_after = started
    state.save()
    more = max(len(new), len(annotated), len(suggested)) >= CHANGES_PER_RUN
    return len(ids), more


def _edited_incident_ids(since):
    """Incidents saved since the last run (an import that moved mitigated_at, a severity change)."""
    if since is None:
        return []
    return list(Incident.objects.filter(updated_at__gte=since).values_list("pk", flat=True)[:CHANGES_PER_RUN])


def _sweep_batch(state, taxonomies):
    """Refresh the next batch of the full pass; a short batch ends the pass, the next starts over.

    While catching up, batches leave the rollup alone and the pass's end recounts all of it
    (cheaper than recounting every month after every batch); every pass's end does, which also
    drops the counts of incidents deleted since.
    """
    ids = refresh_facts_after(state.sweep_after_id, taxonomies, monthly=not state.catching_up)
    if len(ids) < REFRESH_BATCH:
        rebuild_all_monthly()
        state.sweeps_completed += 1
        state.catching_up = False
        state.sweep_after_id = 0
    else:
        state.sweep_after_id = ids[-1]
    state.save()
    return ids[-1] if ids else None
