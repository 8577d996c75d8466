"""Writes about incidents that touch several rows or have side effects."""

from datetime import UTC, datetime

from django.db import connection, models, transaction
from django.utils import timezone

from accounts import audit
from incidents.choices import IncidentStatus
from incidents.importers import LONG_TEXT_FIELDS
from incidents.models import Incident, IncidentUpdate
from incidents.pipeline import request_embeddings

# Characters of the timeline, oldest first, that go into the search document. A tsvector
# holds at most 1 MiB, about 2.3 bytes per character of text at worst (distinct short words);
# each body is capped (importers.MAX_TEXT_LENGTH) but a timeline may have any number, so
# without this ten long updates overflow it and fail their import chunk. With the summary
# and postmortem (100,000 each) this keeps the document near 0.7 MiB at worst; the incident
# stays searchable by how it began.
MAX_SEARCHED_TIMELINE_LENGTH = 100_000

# Weights rank a match in the title above one in the timeline (PostgreSQL's A > B > C > D).
_SEARCH_DOCUMENT_SQL = """
UPDATE incidents_incident AS i
SET search_document =
      setweight(to_tsvector('english', i.title), 'A')
   || setweight(to_tsvector('english', i.summary || ' ' || i.service || ' ' || i.model_name), 'B')
   || setweight(to_tsvector('english', i.postmortem), 'C')
   || setweight(to_tsvector('english', coalesce(u.bodies, '')), 'D')
FROM incidents_incident AS base
LEFT JOIN LATERAL (
    SELECT left(string_agg(body, ' ' ORDER BY posted_at, id), %(limit)s) AS bodies
    FROM incidents_incidentupdate WHERE incident_id = base.id
) AS u ON true
WHERE i.id = base.id AND base.id = ANY(%(ids)s)
"""


def refresh_search_documents(incident_ids):
    """Rebuild the full-text documents of these incidents from their text and timeline.

    Called by every write path (forms, import, API, seed) after it has stored the text,
    since a generated column cannot see the timeline rows.
    """
    ids = list(incident_ids)
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_SEARCH_DOCUMENT_SQL, {"ids": ids, "limit": MAX_SEARCHED_TIMELINE_LENGTH})
        return cursor.rowcount


# Writes of single incidents and timeline entries (the API's create, update and delete).
# Each clears content_hash, so the next import of that record rewrites it from its source,
# and each is audited on its incident, so the audit page shows an incident's whole history.


@transaction.atomic
def create_incident(fields, actor):
    """Create an incident from checked fields, index its text and audit it."""
    fields = {"status": IncidentStatus.implied_by(fields.get("resolved_at")), **fields}
    incident = Incident.objects.create(**fields)
    refresh_search_documents([incident.pk])
    request_embeddings([incident.pk])
    audit.record(
        actor,
        "incident.created",
        incident,
        f"incident {incident.pk} created: {incident.title}",
        {"source": incident.source, "external_id": incident.external_id},
    )
    return incident


@transaction.atomic
def update_incident(incident, fields, actor):
    """Change some fields of an incident, index its text again and audit what changed."""
    changes = _apply(incident, fields, long_fields=LONG_TEXT_FIELDS)
    incident.content_hash = ""
    incident.save(update_fields=[*fields, "content_hash", "updated_at"])
    refresh_search_documents([incident.pk])
    request_embeddings([incident.pk])
    if changes["fields"]:
        summary = f"incident {incident.pk} changed: {', '.join(changes['fields'])}"
        audit.record(actor, "incident.changed", incident, summary, changes)
    return incident


@transaction.atomic
def delete_incident(incident, actor):
    """Delete an incident with its timeline and labels, and audit how many labels went with it."""
    pk = incident.pk
    _, deleted = incident.delete()
    incident.pk = pk  # delete() cleared it; the event names the incident that was
    # By model label: incidents does not import labeling (imports go labeling -> incidents).
    counts = {
        "annotations": deleted.get("labeling.Annotation", 0),
        "decisions": deleted.get("labeling.Decision", 0),
        "timeline_entries": deleted.get("incidents.IncidentUpdate", 0),
    }
    audit.record(
        actor,
        "incident.deleted",
        incident,
        f"incident {pk} deleted ({incident.title}) with {counts['annotations']} annotations, "
        f"{counts['decisions']} decisions and {counts['timeline_entries']} timeline entries",
        {"source": incident.source, "external_id": incident.external_id, "title": incident.title, **counts},
    )


@transaction.atomic
def add_incident_update(fields, actor):
    """Add a timeline entry, index its incident's text again and audit it."""
    update = IncidentUpdate.objects.create(**fields)
    _timeline_changed(update.incident_id)
    audit.record(
        actor,
        "timeline_entry.added",
        update.incident,
        f"timeline entry {update.pk} ({update.stage}) added to incident {update.incident_id}",
        {"entry": update.pk, "stage": update.stage, "posted_at": _plain(update.posted_at)},
    )
    return update


@transaction.atomic
def change_incident_update(update, fields, actor):
    """Change a timeline entry (possibly moving it to another incident), index both and audit it."""
    previous_incident_id = update.incident_id
    changes = _apply(update, fields, long_fields=("body",))
    update.save(update_fields=list(fields))
    _timeline_changed(previous_incident_id, update.incident_id)
    if changes["fields"]:
        summary = f"timeline entry {update.pk} of incident {update.incident_id} changed: {', '.join(changes['fields'])}"
        audit.record(actor, "timeline_entry.changed", update.incident, summary, {"entry": update.pk, **changes})
    return update


@transaction.atomic
def delete_incident_update(update, actor):
    """Delete a timeline entry, index its incident's text again and audit it."""
    pk, incident = update.pk, update.incident
    update.delete()
    _timeline_changed(incident.pk)
    audit.record(
        actor,
        "timeline_entry.deleted",
        incident,
        f"timeline entry {pk} ({update.stage}) deleted from incident {incident.pk}",
        {"entry": pk, "stage": update.stage, "posted_at": _plain(update.posted_at)},
    )


def _timeline_changed(*incident_ids):
    Incident.objects.filter(pk__in=incident_ids).update(content_hash="", updated_at=timezone.now())
    refresh_search_documents(set(incident_ids))
    request_embeddings(incident_ids)


def _apply(instance, fields, long_fields):
    """Set `fields` on `instance`; return the names that changed, with old and new values.

    Long text (a postmortem may hold 100,000 characters) is only named, so the audit log
    keeps one short line per edit.
    """
    changed = [name for name, value in fields.items() if getattr(instance, name) != value]
    short = [name for name in changed if name not in long_fields]
    old = {name: _plain(getattr(instance, name)) for name in short}
    for name, value in fields.items():
        setattr(instance, name, value)
    return {"fields": changed, "old": old, "new": {name: _plain(getattr(instance, name)) for name in short}}


def _plain(value):
    """A value as JSON keeps it in AuditEvent.changes: times in UTC, rows by id."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, models.Model):
        return value.pk
    return value
