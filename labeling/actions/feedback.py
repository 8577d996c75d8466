"""Writes of relevance feedback on similar-incident results."""

from labeling import embeddings
from labeling.models import SimilarityFeedback


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
