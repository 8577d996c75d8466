"""Writes about incidents that touch several rows or have side effects."""

from django.db import connection

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
    SELECT string_agg(body, ' ') AS bodies FROM incidents_incidentupdate WHERE incident_id = base.id
) AS u ON true
WHERE i.id = base.id AND base.id = ANY(%s)
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
        cursor.execute(_SEARCH_DOCUMENT_SQL, [ids])
        return cursor.rowcount
