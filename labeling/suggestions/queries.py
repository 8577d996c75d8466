"""Reads behind suggestions: what the model learns from and what it is asked about.

The only module of labeling.suggestions that touches the ORM; training, scoring and
evaluation stay pure so they can be cross-validated without a database round trip.
"""

import hashlib
from collections import defaultdict

import numpy as np
from django.db.models import Count, Exists, Max, OuterRef, Sum

from incidents.models import Incident
from labeling import embeddings, similarity
from labeling.models import Decision, Embedding, Suggestion, SuggestionModel
from labeling.suggestions.model import NEIGHBOURS, DimensionInfo, Neighbour, OptionInfo
from labeling.suggestions.text import incident_suggestion_text
from labeling.suggestions.training import Dataset


def dimension_infos(taxonomy):
    """[DimensionInfo] of the taxonomy's dimensions, in order, with each option's text.

    A sub-option's text names its parent first ("Inference engine: Timeout: ..."), so the
    option texts of siblings under different parents stay apart.
    """
    infos = []
    for dimension in taxonomy.dimensions.order_by("order", "id").prefetch_related("options"):
        options = sorted(dimension.options.all(), key=lambda option: (option.order, option.pk))
        by_pk = {option.pk: option for option in options}
        infos.append(
            DimensionInfo(
                key=dimension.key,
                multi=dimension.multi,
                options=tuple(_option_info(option, by_pk) for option in options),
            )
        )
    return infos


def _option_info(option, by_pk):
    names = [option.name]
    parent = by_pk.get(option.parent_id)
    while parent is not None:
        names.insert(0, parent.name)
        parent = by_pk.get(parent.parent_id)
    text = ": ".join([*names, option.description]) if option.description else ": ".join(names)
    parent_key = by_pk[option.parent_id].key if option.parent_id in by_pk else None
    return OptionInfo(key=option.key, text=text, description=option.description, parent=parent_key)


def decided_options(taxonomy, incident_ids=None):
    """{incident_id: {dimension key: (option key, ...)}} of the taxonomy's decisions."""
    decisions = Decision.objects.filter(dimension__taxonomy=taxonomy)
    if incident_ids is not None:
        decisions = decisions.filter(incident_id__in=list(incident_ids))
    found = defaultdict(lambda: defaultdict(list))
    rows = decisions.values_list("incident_id", "dimension__key", "option__key").order_by("incident_id", "option_id")
    for incident_id, dimension_key, option_key in rows:
        found[incident_id][dimension_key].append(option_key)
    return {
        incident_id: {key: tuple(values) for key, values in by_dimension.items()}
        for incident_id, by_dimension in found.items()
    }


def decisions_fingerprint(taxonomy):
    """(count, digest) of the taxonomy's decisions: a new digest means there is something new to learn.

    Aggregated in the database (count, latest decision time, sums of ids), so the periodic
    sweep does not pull every decision row; any added, removed or re-decided row changes it.
    """
    figures = Decision.objects.filter(dimension__taxonomy=taxonomy).aggregate(
        count=Count("pk"), latest=Max("decided_at"), incidents=Sum("incident_id"), options=Sum("option_id")
    )
    digest = hashlib.sha256(repr(sorted(figures.items())).encode()).hexdigest()
    return figures["count"], digest


def base_vectors(incident_ids):
    """{incident_id: stored vector} under the current embedding model."""
    rows = Embedding.objects.filter(incident_id__in=list(incident_ids), model_name=embeddings.model_name())
    return {
        incident_id: np.asarray(vector, dtype=np.float32)
        for incident_id, vector in rows.values_list("incident_id", "vector")
    }


def suggestion_texts(incident_ids):
    """{incident_id: the text the suggestion model reads}."""
    incidents = Incident.objects.filter(pk__in=list(incident_ids)).prefetch_related("updates")
    return {incident.pk: incident_suggestion_text(incident) for incident in incidents}


def training_incident_ids(taxonomy, limit):
    """The newest `limit` incidents with a decision in the taxonomy, by id."""
    ids = (
        Decision.objects.filter(dimension__taxonomy=taxonomy)
        .order_by("-incident_id")
        .values_list("incident_id", flat=True)
        .distinct()[:limit]
    )
    return sorted(ids)


def self_training_pool_ids(taxonomy, limit):
    """The newest `limit` incidents with no decision in the taxonomy and a vector, by id."""
    decided = Decision.objects.filter(dimension__taxonomy=taxonomy, incident_id=OuterRef("pk"))
    embedded = Embedding.objects.filter(incident_id=OuterRef("pk"), model_name=embeddings.model_name())
    ids = (
        Incident.objects.filter(~Exists(decided), Exists(embedded)).order_by("-pk").values_list("pk", flat=True)[:limit]
    )
    return sorted(ids)


def load_dataset(taxonomy, infos, incident_ids, pool_ids=()):
    """These decided incidents of the taxonomy, then the undecided `pool_ids`, as a training Dataset.

    Incidents without a stored vector are left out; the caller embeds the decided ones first.
    """
    labels = decided_options(taxonomy, incident_ids)
    vectors = base_vectors([*incident_ids, *pool_ids])
    ids = [incident_id for incident_id in incident_ids if incident_id in vectors and incident_id in labels]
    ids += [incident_id for incident_id in pool_ids if incident_id in vectors and incident_id not in labels]
    labels = {incident_id: labels.get(incident_id, {}) for incident_id in ids}
    texts = suggestion_texts(ids)
    return Dataset(
        incident_ids=ids,
        texts=[texts[incident_id] for incident_id in ids],
        vectors=np.array([vectors[incident_id] for incident_id in ids], dtype=np.float32).reshape(len(ids), -1),
        labels={info.key: [labels[incident_id].get(info.key) for incident_id in ids] for info in infos},
    )


def undecided_incident_ids(taxonomy):
    """Incidents without a decision on at least one of the taxonomy's dimensions, oldest id first."""
    dimension_ids = list(taxonomy.dimensions.values_list("pk", flat=True))
    missing = Incident.objects.none()
    for dimension_id in dimension_ids:
        decided = Decision.objects.filter(dimension_id=dimension_id, incident_id=OuterRef("pk"))
        missing = missing | Incident.objects.filter(~Exists(decided))
    return list(missing.order_by("pk").values_list("pk", flat=True).distinct())


def nearest_decided(taxonomy, vectors_by_incident, k=NEIGHBOURS):
    """{incident_id: [Neighbour]} from pgvector: the k nearest incidents decided in the taxonomy.

    Each Neighbour's `options` is {dimension key: options}; the model reads its dimension's.
    """
    decided = Decision.objects.filter(dimension__taxonomy=taxonomy, incident_id=OuterRef("pk"))
    candidates = Incident.objects.filter(Exists(decided))
    found = {
        incident_id: similarity.nearest_by_vector(candidates.exclude(pk=incident_id), vector, k)
        for incident_id, vector in vectors_by_incident.items()
    }
    labels = decided_options(taxonomy, {neighbour for rows in found.values() for neighbour, _ in rows})
    return {
        incident_id: [
            Neighbour(neighbour, 1.0 - float(distance), labels.get(neighbour, {})) for neighbour, distance in rows
        ]
        for incident_id, rows in found.items()
    }


def latest_suggestion_model(taxonomy):
    """The taxonomy's model of the most recently read decisions for the current embedding model, or None.

    Newest `created_at` first: labeling.actions.suggestions dates a model when its decisions were read.
    """
    return (
        SuggestionModel.objects.filter(taxonomy=taxonomy, embedding_model=embeddings.model_name())
        .defer("state")
        .first()
    )


def iter_suggestion_records(taxonomy):
    """Export records of the taxonomy's suggestions: the best per incident and single-valued
    dimension, every one of a multi-valued dimension; by incident, then dimension order.

    Dimensions an incident has a decision on are left out: suggest_labels no longer rescores
    them, so their rows are of an older model (PRODUCT.md §4).
    """
    # Served by decision_unique_option, whose leading columns are (incident, dimension).
    decided = Decision.objects.filter(incident_id=OuterRef("incident_id"), dimension_id=OuterRef("dimension_id"))
    rows = (
        Suggestion.objects.filter(~Exists(decided), dimension__taxonomy=taxonomy)
        .order_by("incident_id", "dimension__order", "dimension_id", "-score", "option__order", "option_id")
        .values_list(
            "incident_id", "incident__external_id", "incident__source", "dimension_id", "dimension__key",
            "dimension__multi", "option__key", "score",
        )
    )  # fmt: skip
    last = None
    for incident_id, external_id, source, dimension_id, dimension_key, multi, option_key, score in rows.iterator(
        chunk_size=2000
    ):
        if not multi and (incident_id, dimension_id) == last:
            continue
        last = (incident_id, dimension_id)
        yield {
            "incident": external_id,
            "source": source,
            "dimension": dimension_key,
            "value": option_key,
            "score": score,
        }
