"""Similar-incident search: pgvector HNSW neighbours fused with full-text rank.

Two candidate lists, each from PostgreSQL's own index: the nearest vectors by cosine
distance (HNSW, iterative scan so filters still leave k rows) and the best full-text
matches (GIN on the search document). Reciprocal rank fusion merges them, so an exact
error string and a paraphrase of the same failure both surface.
"""

import re
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Value, prefetch_related_objects
from pgvector.django import CosineDistance

from incidents.filters import IncidentFilterSet
from incidents.models import Incident
from incidents.queries import incidents_visible_to
from labeling import embeddings
from labeling.models import Decision, Embedding, Option
from labeling.queries import load_ancestors
from labeling.queue import open_to

# Reciprocal rank fusion constant (Cormack et al. 2009): damps the weight of top ranks.
RRF_K = 60
# Candidates each list contributes before fusion: a few times k, so fusion has choice.
CANDIDATE_FACTOR = 4
MIN_CANDIDATES = 40
# HNSW breadth per query: at least this many, and twice the candidates asked for.
# bench/bench_similar.py at 100k: recall@10 0.994 against exact search at ef_search 100.
MIN_EF_SEARCH = 100
EF_SEARCH_PER_CANDIDATE = 2
MAX_SHARED_TERMS = 8
# When the HNSW scan gives up (hnsw.max_scan_tuples, 20,000) before enough rows pass the
# filters, the filters are selective: the first this many candidates are searched exactly.
MAX_EXACT_SEARCH_CANDIDATES = 20_000
# Full-text matches ranked at most (each read whole): see best_by_text.
MAX_RANKED_MATCHES = 500
# Words of the query the full-text list requires; the first ones of the text (the title, for
# an incident) are the most telling.
MAX_TEXT_TERMS = 6
# The incident list's filters a search takes too (PRODUCT.md §4), applied by the list's own
# definitions so both match alike (service and model ignore case). Not severity: the list's
# multiple-choice filter adds a DISTINCT that every candidate query would carry.
LIST_FILTERS = ("service", "model_name", "status", "modality", "source", "started_after", "started_before")
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
    """Apply the similar-search filters: the list filters, decided-only, category, and `open_to`.

    `open_to` is (analyst, dimension): incidents that still need that analyst's value there
    (labeling.queue.open_to), the candidates of a bulk apply.
    """
    for name in LIST_FILTERS:
        queryset = IncidentFilterSet.base_filters[name].filter(queryset, filters.get(name))
    if filters.get("severity"):
        queryset = queryset.filter(severity__in=filters["severity"])
    if filters.get("category"):
        # The option ids first (a few rows): the HNSW scan tests every row it visits, and with
        # them the test is one index lookup; with the option keys it was four joins per row,
        # which made a category search at 100,000 incidents twice as slow. It implies decided_only.
        category = filters["category"]
        options = Option.objects.filter(dimension__key="category").filter(Q(key=category) | Q(parent__key=category))
        in_category = Decision.objects.filter(
            incident_id=OuterRef("pk"), option_id__in=list(options.values_list("pk", flat=True))
        )
        queryset = queryset.filter(Exists(in_category))
    elif filters.get("decided_only"):
        queryset = queryset.filter(Exists(Decision.objects.filter(incident_id=OuterRef("pk"))))
    if filters.get("open_to"):
        analyst, dimension = filters["open_to"]
        queryset = queryset.filter(open_to(analyst, dimension))
    return queryset


def nearest_by_vector(candidates, vector, limit):
    """[(incident_id, cosine distance)] of the `limit` nearest vectors among `candidates`.

    The HNSW index first; when filters leave so few candidates that its scan gives up before
    finding `limit` of them (hnsw.max_scan_tuples), an exact search among those few.
    """
    with hnsw_search(limit):
        found = list(nearest_query(Embedding.objects.filter(incident__in=candidates), vector, limit))
    if len(found) < limit:
        ids = list(candidates.order_by().values_list("pk", flat=True)[:MAX_EXACT_SEARCH_CANDIDATES])
        found = list(nearest_query(Embedding.objects.filter(incident_id__in=ids), vector, limit, exact=True))
    return sorted(found, key=lambda row: row[1])  # relaxed order: re-sort the few rows


def nearest_query(embeddings_queryset, vector, limit, exact=False):
    """The query of the nearest vectors; `exact` orders by an expression the HNSW index cannot serve."""
    distance = CosineDistance("vector", vector)
    return (
        embeddings_queryset.filter(model_name=embeddings.model_name())
        .annotate(distance=distance + Value(0.0) if exact else distance)
        .order_by("distance")
        .values_list("incident_id", "distance")[:limit]
    )


@contextmanager
def hnsw_search(limit):
    """A transaction whose HNSW scans look at enough of the graph, and go on while filters drop rows."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            [str(ef_search(limit))],
        )
        yield


def ef_search(limit):
    return max(MIN_EF_SEARCH, limit * EF_SEARCH_PER_CANDIDATE)


def best_by_text(candidates, terms, limit):
    """Incident ids whose search document matches all of the first terms, best rank first.

    All of them (AND), not any: an OR of a dozen common words matches most incidents, and
    ranking them all took most of a second at 100,000 incidents; the GIN index intersects
    an AND in milliseconds. Ranking reads each match's whole document, so when common words
    match thousands of incidents only the MAX_RANKED_MATCHES most recent are ranked.
    """
    if not terms:
        return []
    query = SearchQuery(" & ".join(terms[:MAX_TEXT_TERMS]), search_type="raw", config="english")
    recent = candidates.filter(search_document=query).order_by("-started_at", "-pk")[:MAX_RANKED_MATCHES]
    return list(
        Incident.objects.filter(pk__in=recent.values("pk"))
        .annotate(rank=SearchRank(F("search_document"), query))
        .order_by("-rank", "-started_at", "-pk")
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
        vector = embeddings.encode_query(text)
    by_vector = nearest_by_vector(candidates, vector, limit)
    terms = terms_of(text)
    scores = fuse([incident_id for incident_id, _ in by_vector], best_by_text(candidates, terms, limit))
    top_ids = sorted(scores, key=lambda incident_id: -scores[incident_id])[:k]
    distances = dict(by_vector)
    return _hydrate(top_ids, scores, distances, terms, source)


def _hydrate(top_ids, scores, distances, terms, source):
    incidents = _incidents_by_id(top_ids)
    labels = labels_of([*top_ids, source.pk] if source else top_ids)
    source_labels = labels.get(source.pk, {}) if source else {}
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
    # The full-text document is the largest column and nothing shown reads it.
    return Incident.objects.with_durations().defer("search_document").in_bulk(ids)


def labels_of(incident_ids):
    """{incident_id: {dimension_key: [option, ...]}} from the decisions, for display."""
    labels = defaultdict(lambda: defaultdict(list))
    decisions = Decision.objects.filter(incident_id__in=incident_ids, dimension__taxonomy__active=True)
    # Options in their order within a dimension, spelled out: ordering by "option" expands to
    # Option.Meta.ordering through the dimension and taxonomy, three more joins to plan.
    ordered = decisions.order_by("dimension__order", "option__order", "option_id")
    decided = list(ordered.select_related("dimension", "option__parent"))
    load_ancestors([decision.option for decision in decided])  # results are coloured by top level
    for decision in decided:
        labels[decision.incident_id][decision.dimension.key].append(decision.option)
    return {incident_id: dict(by_dimension) for incident_id, by_dimension in labels.items()}


def shared_terms(terms, incident):
    """Words of the query that also occur in the incident's own text."""
    # A set of every word, not terms_of: the query's terms are content words already, and
    # this runs on ten whole postmortems per search.
    own = set(_WORD.findall(f"{incident.title} {incident.summary} {incident.postmortem}".lower()))
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

    prefetch_related_objects([incident], "updates")
    text = incident_embedding_text(incident)
    vector = (
        Embedding.objects.filter(incident=incident, model_name=embeddings.model_name())
        .values_list("vector", flat=True)
        .first()
    )
    return find_similar(user, text=text, vector=vector, exclude_id=incident.pk, filters=filters, k=k, source=incident)
