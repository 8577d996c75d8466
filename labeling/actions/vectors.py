"""Writes of embeddings: one vector per incident and model, only when the text changed."""

from django.utils import timezone

from incidents.models import Incident
from labeling import embeddings
from labeling.models import Embedding


def embed_incidents(incident_ids):
    """Embed the incidents whose text changed since their last vector; return the counts.

    Safe to run twice or concurrently: unchanged text (same hash) is skipped, and the
    upsert against `embedding_unique_per_model` makes a second writer update, not duplicate.
    """
    name = embeddings.model_name()
    incidents = list(Incident.objects.filter(pk__in=incident_ids).prefetch_related("updates"))
    texts = {incident.pk: incident_embedding_text(incident) for incident in incidents}
    known = dict(
        Embedding.objects.filter(incident_id__in=texts, model_name=name).values_list("incident_id", "text_hash")
    )
    hashes = {pk: embeddings.text_hash(text) for pk, text in texts.items()}
    stale = [pk for pk in texts if known.get(pk) != hashes[pk]]
    unchanged = [pk for pk in texts if pk not in stale]
    vectors = embeddings.encode([texts[pk] for pk in stale])
    now = timezone.now()
    Embedding.objects.bulk_create(
        [
            Embedding(incident_id=pk, model_name=name, text_hash=hashes[pk], vector=vector, updated_at=now)
            for pk, vector in zip(stale, vectors, strict=True)
        ],
        update_conflicts=True,
        unique_fields=["incident", "model_name"],
        update_fields=["vector", "text_hash", "updated_at"],
    )
    # Marks unchanged vectors as checked, so the sweep stops offering them.
    Embedding.objects.filter(incident_id__in=unchanged, model_name=name).update(updated_at=now)
    return {"embedded": len(stale), "unchanged": len(unchanged), "missing": len(set(incident_ids) - set(texts))}


def incident_embedding_text(incident):
    """Build the embedding text of an incident whose updates are prefetched."""
    return embeddings.build_embedding_text(*embeddings.incident_text_fields(incident))
