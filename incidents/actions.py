"""Writes about incidents that touch several rows or have side effects."""

from django.db import connection, transaction
from django.utils import timezone

from incidents.choices import IncidentStatus
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
# Each clears content_hash, so the next import of that record rewrites it from its source.


@transaction.atomic
def create_incident(fields):
    """Create an incident from checked fields and index its text."""
    fields = {"status": IncidentStatus.implied_by(fields.get("resolved_at")), **fields}
    incident = Incident.objects.create(**fields)
    refresh_search_documents([incident.pk])
    request_embeddings([incident.pk])
    return incident


@transaction.atomic
def update_incident(incident, fields):
    """Change some fields of an incident and index its text again."""
    for name, value in fields.items():
        setattr(incident, name, value)
    incident.content_hash = ""
    incident.save(update_fields=[*fields, "content_hash", "updated_at"])
    refresh_search_documents([incident.pk])
    request_embeddings([incident.pk])
    return incident


@transaction.atomic
def add_incident_update(fields):
    """Add a timeline entry and index its incident's text again."""
    update = IncidentUpdate.objects.create(**fields)
    _timeline_changed(update.incident_id)
    return update


@transaction.atomic
def change_incident_update(update, fields):
    """Change a timeline entry (possibly moving it to another incident) and index both."""
    previous_incident_id = update.incident_id
    for name, value in fields.items():
        setattr(update, name, value)
    update.save(update_fields=list(fields))
    _timeline_changed(previous_incident_id, update.incident_id)
    return update


@transaction.atomic
def delete_incident_update(update):
    incident_id = update.incident_id
    update.delete()
    _timeline_changed(incident_id)


def _timeline_changed(*incident_ids):
    Incident.objects.filter(pk__in=incident_ids).update(content_hash="", updated_at=timezone.now())
    refresh_search_documents(set(incident_ids))
    request_embeddings(incident_ids)
