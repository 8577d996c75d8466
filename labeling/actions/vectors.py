"""Writes of embeddings: one vector per incident and model, only when the text changed."""

from django.db import connection, transaction
from django.db.models import Case, DateTimeField, Value, When

from incidents.models import Incident
from labeling import embeddings
from labeling.models import Embedding


def embed_incidents(incident_ids):
    """Embed the incidents whose text changed since their last vector; return the counts.

    Safe to run twice or concurrently: unchanged text (same hash) is skipped, the upsert
    against `embedding_unique_per_model` makes a second writer update, not duplicate, and a
    vector is stored only if its incident is still at the version (`updated_at`) its text was
    read at, so an old text's vector never replaces a newer one. An incident edited meanwhile
    ("changed") is left to the embedding its edit queued, or to the sweep.
    """
    name = embeddings.model_name()
    incidents = list(Incident.objects.filter(pk__in=incident_ids).prefetch_related("updates"))
    texts = {incident.pk: incident_embedding_text(incident) for incident in incidents}
    versions = {incident.pk: incident.updated_at for incident in incidents}
    known = dict(
        Embedding.objects.filter(incident_id__in=texts, model_name=name).values_list("incident_id", "text_hash")
    )
    hashes = {pk: embeddings.text_hash(text) for pk, text in texts.items()}
    stale = [pk for pk in texts if known.get(pk) != hashes[pk]]
    vectors = dict(zip(stale, embeddings.encode([texts[pk] for pk in stale]), strict=True))
    with transaction.atomic():
        existing = lock_existing_incidents(versions)
        current = [pk for pk in versions if existing.get(pk) == versions[pk]]
        _store(name, current, versions, hashes, vectors)
    return {
        "embedded": sum(1 for pk in current if pk in vectors),
        "unchanged": sum(1 for pk in current if pk not in vectors),
        "changed": len(existing) - len(current),
        "missing": len(set(incident_ids) - set(existing)),
    }


def _store(name, incident_ids, versions, hashes, vectors):
    """Upsert the new vectors, then stamp every row with the incident version its text is of.

    The stamp is what labeling.queries compares with the incident's `updated_at` to find stale
    vectors: an edit committed after the text was read leaves them different, whatever the clocks.
    """
    Embedding.objects.bulk_create(
        [
            Embedding(incident_id=pk, model_name=name, text_hash=hashes[pk], vector=vectors[pk])
            for pk in incident_ids
            if pk in vectors
        ],
        update_conflicts=True,
        unique_fields=["incident", "model_name"],
        update_fields=["vector", "text_hash"],
    )
    if incident_ids:
        stamps = Case(
            *(When(incident_id=pk, then=Value(versions[pk])) for pk in incident_ids), output_field=DateTimeField()
        )
        Embedding.objects.filter(incident_id__in=incident_ids, model_name=name).update(updated_at=stamps)


def lock_existing_incidents(incident_ids):
    """{pk: updated_at} of these incidents that still exist, kept from being deleted until the transaction ends.

    Call inside the transaction that writes rows referencing them: an incident deleted after
    its rows were computed is left out instead of failing the whole batch at commit. FOR KEY
    SHARE holds up deletes only; edits, which leave the key alone, go on.
    """
    table = connection.ops.quote_name(Incident._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, updated_at FROM {table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE",  # noqa: S608 - the model's table
            [list(incident_ids)],
        )
        return dict(cursor.fetchall())


def incident_embedding_text(incident):
    """Build the embedding text of an incident whose updates are prefetched."""
    return embeddings.build_embedding_text(*embeddings.incident_text_fields(incident))
