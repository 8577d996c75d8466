"""Writes of the labeling app: taxonomies, annotations and decisions."""

from pathlib import Path

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident
from labeling import embeddings
from labeling.models import Dimension, Embedding, Option, SimilarityFeedback, Taxonomy
from labeling.taxonomy_file import parse_taxonomy_text

DEFAULT_TAXONOMY_FILE = Path(__file__).with_name("default_taxonomy.json")


@transaction.atomic
def import_taxonomy(spec):
    """Create or update the active version of a taxonomy from a checked TaxonomySpec.

    Re-importing the same key updates names, descriptions and order in place and adds new
    dimensions and options; nothing is deleted, so labels on existing options survive.
    """
    taxonomy, _ = Taxonomy.objects.update_or_create(
        key=spec.key,
        active=True,
        defaults={"name": spec.name, "description": spec.description},
    )
    for dimension_spec in spec.dimensions:
        dimension, _ = Dimension.objects.update_or_create(
            taxonomy=taxonomy,
            key=dimension_spec.key,
            defaults={
                "name": dimension_spec.name,
                "description": dimension_spec.description,
                "multi": dimension_spec.multi,
                "order": dimension_spec.order,
            },
        )
        _upsert_options(dimension, dimension_spec.options, parent=None)
    return taxonomy


def _upsert_options(dimension, option_specs, parent):
    for option_spec in option_specs:
        option, _ = Option.objects.update_or_create(
            dimension=dimension,
            key=option_spec.key,
            defaults={
                "name": option_spec.name,
                "description": option_spec.description,
                "parent": parent,
                "order": option_spec.order,
            },
        )
        _upsert_options(dimension, option_spec.children, parent=option)


def seed_default_taxonomy():
    """Create or refresh the default taxonomy of PRODUCT.md §3; safe to run any number of times."""
    spec = parse_taxonomy_text(DEFAULT_TAXONOMY_FILE.read_text(), DEFAULT_TAXONOMY_FILE.name)
    return import_taxonomy(spec)


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
    return embeddings.build_embedding_text(
        incident.title,
        incident.summary,
        incident.postmortem,
        incident.service,
        incident.model_name,
        [update.body for update in incident.updates.all()],
    )


def record_similarity_feedback(user, result, useful, source_incident=None, query_text=""):
    """Store (or change) a user's verdict on one result of one search."""
    key = f"incident:{source_incident.pk}" if source_incident else f"text:{query_text.strip().lower()}"
    feedback, _ = SimilarityFeedback.objects.update_or_create(
        user=user,
        query_hash=embeddings.text_hash(key),
        result=result,
        defaults={"useful": useful, "source_incident": source_incident, "query_text": query_text},
    )
    return feedback
