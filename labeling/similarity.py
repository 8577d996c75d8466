"""Similar-incident search: pgvector HNSW neighbours fused with full-text rank.

Two candidate lists, each from PostgreSQL's own index: the nearest vectors by cosine
distance (HNSW, iterative scan so filters still leave k rows) and the best full-text
matches (GIN on the search document). Reciprocal rank fusion merges them, so an exact
error string and a paraphrase of the same failure both surface.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from pgvector.django import CosineDistance

from incidents.models import Incident
from incidents.queries import incidents_visible_to
from labeling import embeddings
from labeling.models import Decision, Embedding

# Reciprocal rank fusion constant (Cormack et al. 2009): damps the weight of top ranks.
RRF_K = 60
# Candidates each list contributes before fusion: a few times k, so fusion has choice.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 40
# HNSW breadth per query: at least this many, and 10x the candidates asked for; measured
# by bench/bench_similar.py to hold recall@10 >= 0.95 against exact search at 100k.
MIN_EF_SEARCH = 100
EF_SEARCH_PER_CANDIDATE = 2
MAX_SHARED_TERMS = 8
# Words of the query the full-text list requires; the first ones of the text (the title, for
# an incident) are the most telling.
MAX_TEXT_TERMS = 6
# A result that shares no word with the query and whose meaning is this far off is noise
# (cosine of all-MiniLM-L6-v2 between unrelated texts is typically below 0.2): it is dropped.
MIN_SIMILARITY_WITHOUT_SHARED_TERMS = 0.2
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be been but by for from had has have in into is it its of on or our out so that the "
    "their then there these this to was we were which while with after before during all any some not no "
    "due when where who what how our us you your they them than also may can could would should will".split()
)


@dataclass
class SimilarResult:
    incident: object
    score: float
    similarity: float | None
    shared_terms: list = field(default_factory=list)
    matching_fields: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)


def terms_of(text):
    """Distinct content words of a text, in order of first appearance."""
    seen = {}
    for word in _WORD.findall(text.lower()):
        if len(word) > 2 and word not in _STOPWORDS:  # numbers stay: "503" and "60s" are telling
            seen.setdefault(word, None)
    return list(seen)


def filter_incidents(queryset, filters):
    """Apply the similar-search filters: the list filters, decided-only, category, undecided-on-a-dimension."""
    conditions = Q()
    if filters.get("service"):
        conditions &= Q(service=filters["service"])
    if filters.get("model_name"):
        conditions &= Q(model_name=filters["model_name"])
    if filters.get("severity"):
        conditions &= Q(severity__in=filters["severity"])
    if filters.get("started_after"):
        conditions &= Q(started_at__date__gte=filters["started_after"])
    if filters.get("started_before"):
        conditions &= Q(started_at__date__lte=filters["started_before"])
    queryset = queryset.filter(conditions)
    if filters.get("decided_only"):
        queryset = queryset.filter(Exists(Decision.objects.filter(incident_id=OuterRef("pk"))))
    if filters.get("undecided_dimension"):
        decided = Decision.objects.filter(incident_id=OuterRef("pk"), dimension=filters["undecided_dimension"])
        queryset = queryset.filter(~Exists(decided))
    if filters.get("category"):
        category = filters["category"]
        in_category = Decision.objects.filter(incident_id=OuterRef("pk"), dimension__key="category").filter(
            Q(option__key=category) | Q(option__parent__key=category)
        )
        queryset = queryset.filter(Exists(in_category))
    return queryset


def nearest_by_vector(candidates, vector, limit):
    """[(incident_id, cosine distance)] of the `limit` nearest vectors among `candidates`."""
    rows = (
        Embedding.objects.filter(model_name=embeddings.model_name(), incident__in=candidates)
        .annotate(distance=CosineDistance("vector", vector))
        .order_by("distance")
        .values_list("incident_id", "distance")[:limit]
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.ef_search = %s", [max(MIN_EF_SEARCH, limit * EF_SEARCH_PER_CANDIDATE)])
        # Keep scanning the graph until enough rows pass the filters (pgvector 0.8).
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        found = list(rows)
    return sorted(found, key=lambda row: row[1])  # relaxed order: re-sort the few rows


def best_by_text(candidates, terms, limit):
    """Incident ids whose search document matches all of the first terms, best rank first.

    All of them (AND), not any: an OR of a dozen common words matches most incidents, and
    ranking them all took most of a second at 100,000 incidents; the GIN index intersects
    an AND in milliseconds. The vector list covers what this misses.
    """
    if not terms:
        return []
    query = SearchQuery(" & ".join(terms[:MAX_TEXT_TERMS]), search_type="raw", config="english")
    return list(
        candidates.filter(search_document=query)
        .annotate(rank=SearchRank(F("search_document"), query))
        .order_by("-rank", "-started_at")
        .values_list("pk", flat=True)[:limit]
    )


def fuse(*ranked_lists):
    """Reciprocal rank fusion of ranked id lists: {id: score}."""
    scores = defaultdict(float)
    for ranked in ranked_lists:
        for rank, incident_id in enumerate(ranked, start=1):
            scores[incident_id] += 1.0 / (RRF_K + rank)
    return scores


def find_similar(user, *, text, vector=None, exclude_id=None, filters=None, k=10, source=None):
    """The k past incidents most like `text` (or `vector`), each with why it matched.

    `source` is the incident a search starts from (its page's panel), whose fields the
    results are compared with; a typed symptom has none.
    """
    filters = filters or {}
    candidates = filter_incidents(incidents_visible_to(user), filters)
    if exclude_id is not None:
        candidates = candidates.exclude(pk=exclude_id)
    limit = max(MIN_CANDIDATES, k * CANDIDATE_FACTOR)
    if vector is None:
        vector = embeddings.encode_one(text)
    by_vector = nearest_by_vector(candidates, vector, limit)
    terms = terms_of(text)
    scores = fuse([incident_id for incident_id, _ in by_vector], best_by_text(candidates, terms, limit))
    top_ids = sorted(scores, key=lambda incident_id: -scores[incident_id])[:k]
    distances = dict(by_vector)
    return _hydrate(top_ids, scores, distances, terms, source)


def _hydrate(top_ids, scores, distances, terms, source):
    incidents = _incidents_by_id(top_ids)
    labels = labels_of(top_ids)
    source_labels = labels_of([source.pk]).get(source.pk, {}) if source else {}
    results = []
    for incident_id in top_ids:
        incident = incidents[incident_id]
        distance = distances.get(incident_id)
        shared = shared_terms(terms, incident)
        if not shared and (distance is None or 1.0 - distance < MIN_SIMILARITY_WITHOUT_SHARED_TERMS):
            continue
        results.append(
            SimilarResult(
                incident=incident,
                score=round(scores[incident_id], 6),
                similarity=None if distance is None else round(1.0 - distance, 4),
                shared_terms=shared,
                matching_fields=matching_fields(source, source_labels, incident, labels.get(incident_id, {})),
                labels=labels.get(incident_id, {}),
            )
        )
    return results


def _incidents_by_id(ids):
    """The result incidents, already filtered for visibility among the candidates."""
    return Incident.objects.with_durations().in_bulk(ids)


def labels_of(incident_ids):
    """{incident_id: {dimension_key: [option, ...]}} from the decisions, for display."""
    labels = defaultdict(lambda: defaultdict(list))
    decisions = Decision.objects.filter(incident_id__in=incident_ids, dimension__taxonomy__active=True)
    for decision in decisions.select_related("dimension", "option__parent").order_by("dimension__order", "option"):
        labels[decision.incident_id][decision.dimension.key].append(decision.option)
    return {incident_id: dict(by_dimension) for incident_id, by_dimension in labels.items()}


def shared_terms(terms, incident):
    """Words of the query that also occur in the incident's own text."""
    own = set(terms_of(f"{incident.title} {incident.summary} {incident.postmortem}"))
    return [term for term in terms if term in own][:MAX_SHARED_TERMS]


def matching_fields(source, source_labels, incident, labels):
    """What a result has in common with the incident the search started from."""
    if source is None:
        return []
    matches = [
        label
        for label, attribute in (("same service", "service"), ("same model", "model_name"), ("same region", "region"))
        if getattr(source, attribute) and getattr(source, attribute) == getattr(incident, attribute)
    ]
    source_categories = {option.top_level.key for option in source_labels.get("category", [])}
    if source_categories & {option.top_level.key for option in labels.get("category", [])}:
        matches.append("same category")
    return matches


def find_similar_to_incident(user, incident, filters=None, k=10):
    """Past incidents like this one, from its stored vector (or a fresh one if none yet)."""
    from labeling.actions import incident_embedding_text

    incident = Incident.objects.prefetch_related("updates").get(pk=incident.pk)
    text = incident_embedding_text(incident)
    stored = Embedding.objects.filter(incident=incident, model_name=embeddings.model_name()).first()
    vector = stored.vector if stored is not None else None
    return find_similar(user, text=text, vector=vector, exclude_id=incident.pk, filters=filters, k=k, source=incident)
