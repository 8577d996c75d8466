"""Import batches, and the bulk reads and writes that move incidents in and out.

An ImportBatch row is the job: the command, the upload page and the API create one holding
the file's bytes (a bytea column, so a worker on another machine can read them), then run
it here directly or through incidents.tasks.run_import_batch. A run first checks the file
as a whole (incidents.importers: size, UTF-8, JSON, CSV header), so a file that cannot be
read changes nothing; then a thread parses its rows while this one writes the good ones in
chunks, each in its own transaction with the batch's counts, so the page shows progress and
a crash loses at most one chunk, which a rerun (an upsert) redoes.

Each chunk is COPYed into a temporary table, then one INSERT ... ON CONFLICT (source,
external_id) DO UPDATE ... WHERE the content hash differs: new rows are inserted, changed
ones updated (their timeline replaced as a set), and unchanged ones not touched at all.
The written ones get their search documents rebuilt and their embeddings requested.
"""

import logging
import threading
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, timedelta
from queue import Full, Queue

from django.db import connection, transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from accounts import audit
from incidents import importers
from incidents.actions import refresh_search_documents
from incidents.exporters import duration_minutes, label_column
from incidents.models import ImportBatch, Incident, IncidentUpdate
from incidents.pipeline import request_embeddings, send_or_leave_to_sweep

logger = logging.getLogger(__name__)

# Rows per transaction: big enough that COPY and the single upsert dominate, small enough
# to bound memory, row locks and the search-document refresh, and to show progress often.
CHUNK_SIZE = 5000
# Errors kept on the batch for the page and the API; `rejected` counts every bad row.
MAX_STORED_ERRORS = 100
# A running batch not heard from for this long lost its worker and may be claimed again. The
# heartbeat beats after every chunk, about a second apart at the 5,000 rows/s target, so five
# silent minutes is a dead worker, not a slow one; and a batch claimed twice is only
# imported twice, an upsert, so a false alarm costs time, never data.
STALE_AFTER = timedelta(minutes=5)
# Incidents fetched per query when exporting, with their timelines and labels.
EXPORT_CHUNK_SIZE = 1000

_COLUMNS = (*importers.INCIDENT_FIELDS, "content_hash")


def create_import_batch(*, file_name, content, fmt, source="", user=None, store=True):
    """Record a file to import, keeping its bytes when `store`; the caller runs or enqueues it."""
    return ImportBatch.objects.create(
        file_name=file_name[:255],
        format=fmt,
        source=source,
        content=content if store else b"",
        size=len(content),
        created_by=user,
    )


def enqueue_import_batch(batch):
    """Run the batch on a worker once the transaction that created it has committed.

    As with embeddings (incidents.pipeline), a broker that cannot be reached must not fail
    the upload: the batch is saved as pending, and the sweep of abandoned batches sends it
    once PENDING_TOO_LONG has passed.
    """
    from incidents.tasks import run_import_batch  # tasks imports this module

    waiting = f"import batch {batch.pk} waits for the import sweep"
    transaction.on_commit(lambda: send_or_leave_to_sweep(run_import_batch, [batch.pk], waiting))


def list_import_batches():
    """Import batches, newest first, without their stored files."""
    return ImportBatch.objects.defer("content").select_related("created_by")


def claim_import_batch(batch_id):
    """Mark a waiting (or abandoned) batch as running; True only for the one caller that did."""
    now = timezone.now()
    claimable = Q(status=ImportBatch.Status.PENDING) | Q(
        status=ImportBatch.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    claimed = ImportBatch.objects.filter(claimable, pk=batch_id).update(
        status=ImportBatch.Status.RUNNING, started_at=now, heartbeat_at=now, total=0, created=0, updated=0,
        unchanged=0, rejected=0, errors=[], failure="",
    )  # fmt: skip
    return claimed == 1


# A pending batch whose task has not started by then lost its message (broker restarted).
PENDING_TOO_LONG = timedelta(minutes=5)


def find_abandoned_import_batches():
    """Batches whose worker died or whose message was lost: (to rerun, to fail).

    Those with their file stored are run again (an upsert, so redoing chunks is harmless);
    those imported synchronously by a command that died have no file left and fail.
    """
    now = timezone.now()
    abandoned = ImportBatch.objects.filter(
        Q(status=ImportBatch.Status.PENDING, created_at__lt=now - PENDING_TOO_LONG)
        | Q(status=ImportBatch.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    ).defer("content")
    return list(abandoned.exclude(content=b"")), list(abandoned.filter(content=b""))


def fail_abandoned_import_batch(batch):
    updated = ImportBatch.objects.filter(
        pk=batch.pk, status__in=[ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING]
    )
    updated.update(
        status=ImportBatch.Status.FAILED,
        failure="The process running this import stopped and its file was not kept; import the file again.",
        finished_at=timezone.now(),
    )


class ClaimLost(Exception):
    """Another worker claimed this batch again (ours went quiet for STALE_AFTER): stop, it goes on."""


def run_import_batch(batch_id, content=None):
    """Claim a batch and import its file; return it, or None when it was not ours to run.

    `content` is the file when the caller holds it (the command); otherwise the stored copy.
    Every write to the batch is conditioned on this claim (its `started_at`), so a worker
    that was only slow, not dead, stops at its next chunk once the sweep has given the batch
    to another, and the counts are the new claim's alone.
    """
    if not claim_import_batch(batch_id):
        return None
    batch = ImportBatch.objects.defer("content").get(pk=batch_id)
    if content is None:
        content = bytes(ImportBatch.objects.values_list("content", flat=True).get(pk=batch_id))
    try:
        _import_content(batch, content)
    except ClaimLost:
        logger.warning("Import batch %s was claimed again by another worker; this one stops", batch.pk)
        return None
    except importers.ImportFileError as error:
        return _finish(batch, failure=str(error))
    except Exception as error:
        _finish(batch, failure=f"The import stopped on an unexpected error: {error}")
        raise
    return _finish(batch)


def _import_content(batch, content):
    rows = importers.read_records(content, batch.format, default_source=batch.source)
    _ours(batch).update(total=rows.total)
    stored_errors = []
    for records, errors in _ahead_of_time(_chunks(rows)):
        stored_errors.extend(error.as_dict() for error in errors[: MAX_STORED_ERRORS - len(stored_errors)])
        with transaction.atomic():
            _commit_without_waiting_for_disk()
            created, updated, unchanged = upsert_records(records)
            counted = _ours(batch).update(
                created=F("created") + created,
                updated=F("updated") + updated,
                unchanged=F("unchanged") + unchanged,
                rejected=F("rejected") + len({error.position for error in errors}),
                errors=stored_errors,
                heartbeat_at=timezone.now(),
            )
            if not counted:
                raise ClaimLost  # rolls this chunk back; the new claim imports it


def _ours(batch):
    """The batch as long as it is still running under this worker's claim."""
    return ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.RUNNING, started_at=batch.started_at)


def _commit_without_waiting_for_disk():
    # A bulk load need not wait for each chunk's WAL flush: a crash can lose only the last
    # chunks, their counts with them (same transaction), and the batch stays running until
    # a rerun redoes them; the batch's final "done" is a normal commit, flushing all before.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def _chunks(items):
    """Group items into ([Record] of CHUNK_SIZE, [RowError]) pairs; a row's errors stay together."""
    records, errors = [], []
    for item in items:
        if isinstance(item, importers.Record):
            records.append(item)
            if len(records) == CHUNK_SIZE:
                yield records, errors
                records, errors = [], []
        else:
            errors.append(item)
    if records or errors:
        yield records, errors


def _ahead_of_time(iterable, depth=2):
    """Yield from `iterable` as a thread computes it ahead: parsing runs while the database writes."""
    queue, stop, done = Queue(maxsize=depth), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            with suppress(Full):
                queue.put(item, timeout=0.1)
                return

    def produce():
        try:
            for item in iterable:
                put(item)
        except Exception as error:  # handed over to the consumer, which raises it
            put(_Failure(error))
        put(done)

    threading.Thread(target=produce, name="import-parse", daemon=True).start()
    try:
        while (item := queue.get()) is not done:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()


@dataclass
class _Failure:
    error: Exception


def _finish(batch, failure=""):
    counts = {}
    if not failure:  # the exact count, where the one set at the start was an estimate (CSV)
        counts["total"] = F("created") + F("updated") + F("unchanged") + F("rejected")
    finished = _ours(batch).update(
        status=ImportBatch.Status.FAILED if failure else ImportBatch.Status.DONE,
        failure=failure,
        finished_at=timezone.now(),
        content=b"",
        **counts,
    )
    if not finished:  # claimed again, or failed by the sweep, while this worker was stuck
        return None
    if failure:
        logger.warning("Import batch %s (%s) failed: %s", batch.pk, batch.file_name, failure)
    batch = ImportBatch.objects.defer("content").get(pk=batch.pk)
    audit.record(
        batch.created_by,
        "import.failed" if failure else "import.done",
        batch,
        f"import {batch.file_name}: {batch.created} created, {batch.updated} updated, "
        f"{batch.unchanged} unchanged, {batch.rejected} rejected{' — ' + failure if failure else ''}",
    )
    return batch


def import_file(*, file_name, content, fmt, source="", user=None):
    """Import a file now, in this process, recording it as a batch; return the batch."""
    batch = create_import_batch(file_name=file_name, content=content, fmt=fmt, source=source, user=user, store=False)
    # None when the sweep failed the batch while this process was stuck: it says so itself.
    return run_import_batch(batch.pk, content=content) or ImportBatch.objects.defer("content").get(pk=batch.pk)


def upsert_records(records):
    """Write checked records by (source, external_id); return (created, updated, unchanged).

    Call inside a transaction: the staging table lives until its end.
    """
    if not records:
        return 0, 0, 0
    written = _upsert_incidents(records)
    ids_by_key = {(source, external_id): pk for pk, source, external_id, _ in written}
    updated_ids = [pk for pk, _, _, inserted in written if not inserted]
    if updated_ids:
        IncidentUpdate.objects.filter(incident_id__in=updated_ids).delete()
    _insert_updates(records, ids_by_key)
    refresh_search_documents(ids_by_key.values())
    request_embeddings(ids_by_key.values())
    created = sum(1 for *_, inserted in written if inserted)
    return created, len(written) - created, len(records) - len(written)


def _upsert_incidents(records):
    table = Incident._meta.db_table
    columns = ", ".join(_COLUMNS)
    assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE incident_import_stage ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"  # noqa: S608 - names from the model, no input
        )
        with cursor.cursor.copy(f"COPY incident_import_stage ({columns}) FROM STDIN") as copy:
            for record in records:
                copy.write_row([*(record.fields[name] for name in importers.INCIDENT_FIELDS), record.content_hash])
        # xmax is 0 on a row this statement inserted, set on one it updated; rows whose hash
        # did not change fail the WHERE and are neither written nor returned. The ORDER BY
        # makes every import lock rows in one order (the conflict target's), so two imports
        # of files sharing rows in different orders wait for each other instead of deadlocking.
        cursor.execute(
            f"""INSERT INTO {table} AS i ({columns}, created_at, updated_at)
            SELECT {columns}, now(), now() FROM incident_import_stage ORDER BY source, external_id
            ON CONFLICT (source, external_id) DO UPDATE SET {assignments}, updated_at = EXCLUDED.updated_at
            WHERE i.content_hash IS DISTINCT FROM EXCLUDED.content_hash
            RETURNING i.id, i.source, i.external_id, (i.xmax = 0)"""  # noqa: S608 - names from the model, no input
        )
        written = cursor.fetchall()
        cursor.execute("DROP TABLE incident_import_stage")
    return written


def _insert_updates(records, ids_by_key):
    table = IncidentUpdate._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} (incident_id, stage, posted_at, body) FROM STDIN") as copy,
    ):
        for record in records:
            incident_id = ids_by_key.get(record.key)
            if incident_id is None:
                continue
            for update in record.updates:
                copy.write_row((incident_id, update["stage"], update["posted_at"], update["body"]))


# Export: the reads behind `export_incidents` and the list page's download button.


def _decision_model():
    # The labeling app's Decision, reached through its relation to Incident: incidents never
    # imports labeling, since dependencies run one way (analytics → labeling → incidents).
    return Incident._meta.get_field("decisions").related_model


def list_label_columns(queryset):
    """Export column names of the active taxonomies' dimensions decided for these incidents."""
    rows = (
        _decision_model()
        .objects.filter(incident__in=queryset.order_by().values("pk"), dimension__taxonomy__active=True)
        .values_list("dimension__taxonomy__key", "dimension__order", "dimension__key")
        .order_by("dimension__taxonomy__key", "dimension__order", "dimension__key")
        .distinct()
    )
    return [label_column(taxonomy, dimension) for taxonomy, _, dimension in rows]


def iter_export_records(queryset):
    """Yield each incident as plain data: API field names, timeline, labels of active taxonomies."""
    decisions = Prefetch(
        "decisions",
        queryset=_decision_model()
        .objects.filter(dimension__taxonomy__active=True)
        .select_related("dimension__taxonomy", "option")
        .order_by("dimension__order", "option__order", "option__key"),
        to_attr="active_decisions",
    )
    for incident in queryset.prefetch_related("updates", decisions).iterator(chunk_size=EXPORT_CHUNK_SIZE):
        yield export_record(incident)


def export_record(incident):
    record = {name: getattr(incident, name) for name in importers.INCIDENT_FIELDS}
    record["ttd_minutes"] = duration_minutes(incident.time_to_detect)
    record["ttm_minutes"] = duration_minutes(incident.time_to_mitigate)
    record["ttr_minutes"] = duration_minutes(incident.time_to_resolve)
    record["updates"] = [
        {"stage": update.stage, "posted_at": update.posted_at.astimezone(UTC), "body": update.body}
        for update in incident.updates.all()
    ]
    for decision in getattr(incident, "active_decisions", ()):
        column = label_column(decision.dimension.taxonomy.key, decision.dimension.key)
        record.setdefault(column, []).append(decision.option.key)
    return record
