"""`manage.py seed_demo --count N [--seed S]`: synthetic incidents with timelines and labels.

The records come from labeling.demo (pure); this command only writes them, with COPY, since
`make run` and the benchmarks seed up to a million rows and row-by-row INSERTs would take
minutes where COPY takes seconds.
"""

import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.actions import create_user_with_role
from accounts.roles import Role
from incidents.actions import refresh_search_documents
from incidents.models import Incident, IncidentUpdate
from labeling import demo
from labeling.actions import seed_default_taxonomy
from labeling.choices import AnnotationSource, DecisionMethod
from labeling.models import Annotation, Decision, Option, Taxonomy

# Incidents per transaction. Big enough that COPY's per-statement cost vanishes (5,000
# incidents carry ~22,000 updates and ~15,000 labels), small enough that a batch's records
# (~10 MB of text) stay in memory comfortably, the search-document UPDATE works on a set
# that fits in shared buffers, and a failure loses at most one batch; a rerun continues after
# the last committed one.
BATCH_SIZE = 5_000
# Batches written at once, each by its own thread, connection and transaction. Most of the
# time goes to PostgreSQL computing search documents (to_tsvector) on one core per
# connection, so two writers use both cores of the target machine while this thread
# generates the next batch in the gaps (the writers wait on the server with the GIL released).
WRITER_THREADS = 2
DEFAULT_SEED = 7
FIRST_ANALYST = "analyst"
SECOND_ANALYST = "analyst2"
DIMENSIONS = ("category", "detection", "mitigation")

# The columns the seed sets, per model; every other column gets its model default (see _table).
INCIDENT_COLUMNS = (
    "id", "source", "external_id", "title", "summary", "postmortem", "severity", "status", "service",
    "model_name", "modality", "region", "endpoint", "started_at", "detected_at", "mitigated_at",
    "resolved_at", "tags", "customer_impact", "created_at", "updated_at",
)  # fmt: skip
UPDATE_COLUMNS = ("incident_id", "stage", "posted_at", "body")
ANNOTATION_COLUMNS = (
    "id", "incident_id", "dimension_id", "annotator_id", "source", "is_adjudication", "is_current", "created_at",
)  # fmt: skip
ANNOTATION_OPTION_COLUMNS = ("annotation_id", "option_id")
DECISION_COLUMNS = ("incident_id", "dimension_id", "option_id", "method", "decided_by_id", "decided_at")
# Left to the database: an empty full-text document until refresh_search_documents fills it.
UNSET_COLUMNS = {"search_document"}


@dataclass(frozen=True)
class CopyTable:
    """A table COPY writes: the seed's columns, then the others with their model defaults."""

    name: str
    columns: tuple
    defaults: tuple


@dataclass(frozen=True)
class SeedTarget:
    """The ids (dimensions, options by (dimension, key), analysts) and tables the writers need."""

    dimension_ids: dict
    option_ids: dict
    first_analyst_id: int
    second_analyst_id: int
    tables: dict


class Command(BaseCommand):
    help = "Create realistic synthetic incidents, timelines and labels (the study's proportions)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=settings.DEMO_SEED_COUNT, help="Incidents to create.")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Random seed; same seed, same data.")

    def handle(self, *args, count, seed, **options):
        if count < 0 or seed < 0:
            raise CommandError("--count and --seed must not be negative.")
        started = time.perf_counter()
        target = _seed_target()
        start = _next_demo_index(seed)
        batches = _record_batches(count, seed, timezone.now(), start)
        # Inside a caller's transaction (tests, scripts) other connections could not see its
        # rows, so write on this connection only.
        parallel = count > BATCH_SIZE and not connection.in_atomic_block
        totals = _write_in_parallel(batches, target) if parallel else _write_serially(batches, target)
        elapsed = time.perf_counter() - started
        rate = totals["incidents"] / elapsed if elapsed else 0
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Seeded {totals['incidents']:,} demo incidents (seed {seed}, from #{start}): "
                f"{totals['updates']:,} updates, {totals['annotations']:,} annotations, "
                f"{totals['decisions']:,} decisions in {elapsed:.1f} s ({rate:,.0f} incidents/s)."
            )


def _seed_target():
    """Look up the default taxonomy's ids (seeding it if missing) and the two demo analysts."""
    taxonomy = Taxonomy.objects.filter(key=demo.TAXONOMY_KEY, active=True).first() or seed_default_taxonomy()
    options = Option.objects.filter(dimension__taxonomy=taxonomy, dimension__key__in=DIMENSIONS)
    option_ids, dimension_ids = {}, {}
    for option_id, dimension_id, dimension_key, option_key in options.values_list(
        "id", "dimension_id", "dimension__key", "key"
    ):
        option_ids[dimension_key, option_key] = option_id
        dimension_ids[dimension_key] = dimension_id
    _check_options_exist(option_ids)
    first, _ = create_user_with_role(FIRST_ANALYST, Role.ANALYST)
    second, _ = create_user_with_role(SECOND_ANALYST, Role.ANALYST)
    return SeedTarget(dimension_ids, option_ids, first.pk, second.pk, _copy_tables())


def _copy_tables():
    return {
        "incidents": _table(Incident, INCIDENT_COLUMNS),
        "updates": _table(IncidentUpdate, UPDATE_COLUMNS),
        "annotations": _table(Annotation, ANNOTATION_COLUMNS),
        "annotation_options": _table(Annotation.options.through, ANNOTATION_OPTION_COLUMNS),
        "decisions": _table(Decision, DECISION_COLUMNS),
    }


def _table(model, columns):
    """The model's table with `columns` first, then every other column and its model default.

    COPY bypasses Django's defaults, so a column added later (content_hash, is_adjudication
    were) would otherwise be NULL; this way it gets what a Django save would give it. Ids the
    seed does not set and database-side defaults are left to the database.
    """
    others = [
        field
        for field in model._meta.concrete_fields
        if field.column not in columns
        and field.column not in UNSET_COLUMNS
        and not field.primary_key
        and not field.has_db_default()
    ]
    return CopyTable(
        model._meta.db_table,
        (*columns, *(field.column for field in others)),
        tuple(field.get_default() for field in others),
    )


def _check_options_exist(option_ids):
    """The taxonomy is editable; refuse to seed rather than fail mid-way on a removed option."""
    needed = {("category", key) for key in demo.PARENT_OF}
    needed |= {("detection", key) for key in demo.DETECTION_WEIGHTS}
    needed |= {("mitigation", key) for key in demo.MITIGATION_WEIGHTS}
    missing = sorted(f"{dimension}.{key}" for dimension, key in needed - option_ids.keys())
    if missing:
        raise CommandError(f"Taxonomy {demo.TAXONOMY_KEY!r} lacks options the demo uses: {', '.join(missing)}")


def _next_demo_index(seed):
    """The index after the highest DEMO-<seed>- incident, so a rerun adds rather than collides."""
    prefix = demo.external_id_prefix(seed)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(substr(external_id, %s)::bigint) FROM incidents_incident "
            "WHERE source = %s AND starts_with(external_id, %s) AND substr(external_id, %s) ~ '^[0-9]+$'",
            [len(prefix) + 1, demo.SOURCE, prefix, len(prefix) + 1],
        )
        (highest,) = cursor.fetchone()
    return 0 if highest is None else highest + 1


def _record_batches(count, seed, now, start):
    """Yield the records in lists of BATCH_SIZE, generated lazily to bound memory."""
    records = demo.generate_incidents(count, seed, now, start)
    while batch := list(islice(records, BATCH_SIZE)):
        yield batch


def _write_serially(batches, target):
    totals = Counter()
    for batch in batches:
        totals.update(_write_batch(batch, target))
    return totals


def _write_in_parallel(batches, target):
    """Write batches on WRITER_THREADS connections, generating the next ones meanwhile.

    Every batch is still one transaction, complete with its search documents. After a crash,
    a later batch may be committed while an earlier one is not; the rerun then continues
    after the highest index, leaving a gap in the numbering but never a duplicate.
    """
    totals = Counter()
    with ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="seed-demo") as pool:
        pending = deque()
        for batch in batches:
            pending.append(pool.submit(_write_batch_and_disconnect, batch, target))
            # One batch queued beyond the busy writers, so none of them waits for generation.
            if len(pending) > WRITER_THREADS:
                totals.update(pending.popleft().result())
        for future in pending:
            totals.update(future.result())
    return totals


def _write_batch_and_disconnect(batch, target):
    """_write_batch in a pool thread, closing the thread's own Django connection afterwards."""
    try:
        return _write_batch(batch, target)
    finally:
        connection.close()


@transaction.atomic
def _write_batch(batch, target):
    """COPY one batch of incidents and everything hanging off them, then index their text."""
    tables = target.tables
    with connection.cursor() as cursor:
        pg_cursor = cursor.cursor
        incident_ids = _reserve_ids(pg_cursor, tables["incidents"], len(batch))
        decided = [(incident_id, r) for incident_id, r in zip(incident_ids, batch, strict=True) if r.decided]
        labelings = [labeling for incident_id, r in decided for labeling in _annotations_of(incident_id, r, target)]
        annotation_ids = _reserve_ids(pg_cursor, tables["annotations"], len(labelings))
        _copy(pg_cursor, tables["incidents"], _incident_rows(batch, incident_ids))
        updates = _copy(pg_cursor, tables["updates"], _update_rows(batch, incident_ids))
        _copy(pg_cursor, tables["annotations"], _annotation_rows(labelings, annotation_ids, target))
        _copy(pg_cursor, tables["annotation_options"], _annotation_option_rows(labelings, annotation_ids, target))
        decisions = _copy(pg_cursor, tables["decisions"], _decision_rows(decided, target))
    refresh_search_documents(incident_ids)
    return Counter(incidents=len(batch), updates=updates, annotations=len(labelings), decisions=decisions)


def _reserve_ids(pg_cursor, table, count):
    """Take `count` ids from the table's sequence, so child rows can name their parents."""
    if not count:
        return []
    pg_cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table.name, count]
    )
    return [row[0] for row in pg_cursor.fetchall()]


def _copy(pg_cursor, table, rows):
    """COPY rows, completed with the table's default values, into it; return how many."""
    written, defaults = 0, table.defaults
    with pg_cursor.copy(f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((*row, *defaults) if defaults else row)
            written += 1
    return written


def _incident_rows(batch, incident_ids):
    for incident_id, r in zip(incident_ids, batch, strict=True):
        # created_at: the record was opened at detection; updated_at: its last timeline entry.
        yield (
            incident_id, demo.SOURCE, r.external_id, r.title, r.summary, r.postmortem, r.severity, r.status,
            r.service, r.model_name, r.modality, r.region, r.endpoint, r.started_at, r.detected_at,
            r.mitigated_at, r.resolved_at, r.tags, r.customer_impact, r.detected_at, r.updates[-1][1],
        )  # fmt: skip


def _update_rows(batch, incident_ids):
    for incident_id, record in zip(incident_ids, batch, strict=True):
        for stage, posted_at, body in record.updates:
            yield incident_id, stage, posted_at, body


def _annotations_of(incident_id, record, target):
    """(incident id, dimension, option keys, annotator id, is adjudication, when) per annotation.

    The first analyst labels every decided incident; a second analyst labels some blind, and
    where they disagree the first analyst's value stands as the adjudicated ruling.
    """
    first, second = target.first_analyst_id, target.second_analyst_id
    own = _label_keys(record.labels)
    rows = [(incident_id, dimension, keys, first, False, record.labeled_at) for dimension, keys in own]
    if record.second:
        theirs = _label_keys(record.second)
        rows += [(incident_id, dimension, keys, second, False, record.labeled_at) for dimension, keys in theirs]
        rows += [
            (incident_id, dimension, keys, first, True, record.labeled_at)
            for (dimension, keys), (_, other) in zip(own, theirs, strict=True)
            if set(keys) != set(other)
        ]
    return rows


def _annotation_rows(labelings, annotation_ids, target):
    """Current human annotations, in the order of ANNOTATION_COLUMNS."""
    human = AnnotationSource.HUMAN.value
    for annotation_id, (incident_id, dimension, _, annotator_id, is_adjudication, when) in zip(
        annotation_ids, labelings, strict=True
    ):
        yield (
            annotation_id,
            incident_id,
            target.dimension_ids[dimension],
            annotator_id,
            human,
            is_adjudication,
            True,
            when,
        )


def _annotation_option_rows(labelings, annotation_ids, target):
    """The M2M rows: one per option an annotation holds (two for a two-way mitigation)."""
    for annotation_id, (_, dimension, keys, *_) in zip(annotation_ids, labelings, strict=True):
        for key in keys:
            yield annotation_id, target.option_ids[dimension, key]


def _decision_rows(decided, target):
    """One row per chosen option: agreement or adjudication where a second analyst labeled."""
    for incident_id, record in decided:
        second = dict(_label_keys(record.second)) if record.second else {}
        for dimension, keys in _label_keys(record.labels):
            method = _method(keys, second.get(dimension))
            for key in keys:
                yield (
                    incident_id, target.dimension_ids[dimension], target.option_ids[dimension, key], method,
                    target.first_analyst_id, record.labeled_at,
                )  # fmt: skip


def _label_keys(labels):
    return (("category", (labels.category,)), ("detection", (labels.detection,)), ("mitigation", labels.mitigation))


def _method(keys, second_keys):
    if second_keys is None:
        return DecisionMethod.SINGLE.value
    if set(second_keys) == set(keys):
        return DecisionMethod.AGREEMENT.value
    return DecisionMethod.ADJUDICATION.value
