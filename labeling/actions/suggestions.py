"""Writes of suggestions: train a taxonomy's suggestion model, store what it suggests."""

import logging
import pickle
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from labeling import embeddings
from labeling.actions.vectors import embed_incidents, lock_existing_incidents
from labeling.models import Dimension, Option, Suggestion, SuggestionModel
from labeling.suggestions import queries, training, tuning
from labeling.suggestions.model import Neighbour

logger = logging.getLogger(__name__)

# Name of the method, stamped into every model_version; bump it when the method changes.
METHOD = "setfit-knn-self-3"
# Retrain once this many decisions arrived since the last model, or this share more, whichever
# is larger: a few new labels barely move the model, and training takes minutes of CPU.
RETRAIN_MIN_NEW_DECISIONS = 20
RETRAIN_GROWTH = 0.10
# Decided incidents a model learns from at most (the newest): their token states are held in
# memory (~100 KB each, and up to as much again for the lead reading) and the tuned encoder's
# step cap (tuning.MAX_STEPS) makes more of them worth little; 2,000 (and 1,000 undecided for
# self-training) trained in 503 s on two cores (make run's demo) before the lead reading, which
# embeds each batch twice.
MAX_TRAINING_INCIDENTS = 2000
# Undecided incidents (the newest) offered to self-training (training.SELF_TRAINING_SCORE):
# more of them than this mostly cost the time to encode them.
MAX_SELF_TRAINING_POOL = 1000
# Names the advisory locks of `training_lock` (with the taxonomy's id as the second key).
TRAINING_LOCK_NAME = "labeling.suggestionmodel.training"
# Incidents scored per batch: one encode of their texts, one transaction of writes.
SUGGEST_BATCH = 256
# Digits kept of scores and similarities shown to analysts and exported.
SCORE_DIGITS = 4


def model_version(taxonomy, decision_count):
    return f"{METHOD}:{taxonomy.key}@v{taxonomy.version}:{embeddings.model_name()}:n{decision_count}"


def needs_training(taxonomy):
    """True when the taxonomy has decisions and no model, or enough new ones since its latest model."""
    count, digest = queries.decisions_fingerprint(taxonomy)
    if not count:
        return False
    latest = queries.latest_suggestion_model(taxonomy)
    if latest is None:
        return True
    if latest.decisions_digest == digest:
        return False
    return count - latest.decision_count >= max(RETRAIN_MIN_NEW_DECISIONS, RETRAIN_GROWTH * latest.decision_count)


@contextmanager
def training_lock(taxonomy, *, wait=True):
    """Hold the taxonomy's training lock for the block; yield whether it was taken (always when waiting).

    A PostgreSQL advisory lock of this database session, so every path that trains (the
    task, the suggest_labels command) takes turns, the model of the newest decisions is
    stored last, and the lock of a worker that dies goes with its connection.
    """
    key = [TRAINING_LOCK_NAME, taxonomy.pk]
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s), %s)", key)
        else:
            cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", key)
        taken = wait or cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", key)


def train_if_needed(taxonomy, *, wait=True):
    """Train the taxonomy's model if enough new decisions arrived; return the new model, or None.

    With `wait=False`, None at once while another training of the taxonomy runs.
    """
    with training_lock(taxonomy, wait=wait) as taken:
        if taken and needs_training(taxonomy):
            return train_suggestion_model(taxonomy)
    return None


def train_suggestion_model(taxonomy):
    """Train a model on the taxonomy's decisions and store it; return the SuggestionModel row.

    Safe to run twice or at once: trainings of a taxonomy take turns (`training_lock`), a
    model of the same decisions is found by its digest, not retrained, and a model is dated
    when its decisions were read, so one of older decisions never becomes the latest.
    """
    with training_lock(taxonomy):
        read_at = timezone.now()
        count, digest = queries.decisions_fingerprint(taxonomy)
        existing = SuggestionModel.objects.filter(
            taxonomy=taxonomy, embedding_model=embeddings.model_name(), decisions_digest=digest
        ).first()
        if existing is not None:
            return existing
        return _store(_train(taxonomy, count, digest), read_at)


def _train(taxonomy, count, digest):
    """Train a suggester on the taxonomy's decisions; return its SuggestionModel row, not yet saved."""
    started = time.perf_counter()
    infos = queries.dimension_infos(taxonomy)
    dataset = _training_set(taxonomy, infos)
    suggester = training.train_suggester(dataset, infos, _option_vectors(infos))
    row = SuggestionModel(
        taxonomy=taxonomy,
        embedding_model=embeddings.model_name(),
        decision_count=count,
        decisions_digest=digest,
        version=model_version(taxonomy, count),
        state=pickle.dumps(suggester),
        metrics=_calibration_figures(suggester),
        training_seconds=round(time.perf_counter() - started, 1),
    )
    logger.info(
        "trained %s on %d decided and %d undecided incidents in %.0f s",
        row.version, len(dataset.labeled()), len(dataset.unlabeled()), row.training_seconds,
    )  # fmt: skip
    return row


def _store(row, read_at):
    """Save the row dated `read_at`, or return the one of the same decisions a racing training saved first.

    latest_suggestion_model goes by `created_at`; dated when its decisions were read rather
    than when it was saved, a model of older decisions that finishes last never becomes the latest.
    """
    try:
        with transaction.atomic():
            row.save()
            SuggestionModel.objects.filter(pk=row.pk).update(created_at=read_at)  # auto_now_add set "now"
    except IntegrityError:
        return SuggestionModel.objects.get(
            taxonomy=row.taxonomy, embedding_model=row.embedding_model, decisions_digest=row.decisions_digest
        )
    row.created_at = read_at
    return row


def _training_set(taxonomy, infos):
    """The newest decided incidents, embedding any that have no vector yet, and the newest
    undecided ones that have a vector (the rest wait for the embedding queue), as a Dataset."""
    ids = queries.training_incident_ids(taxonomy, MAX_TRAINING_INCIDENTS)
    _embed_missing(ids)
    pool = queries.self_training_pool_ids(taxonomy, MAX_SELF_TRAINING_POOL)
    return queries.load_dataset(taxonomy, infos, ids, pool)


def _calibration_figures(suggester):
    """What the admin sees of a model: per dimension, trained or not, its classes and calibration."""
    return {
        key: {
            "trained": model.trained,
            "classes": model.classes,
            "calibration": [model.calibration.slope, model.calibration.intercept],
        }
        for key, model in suggester.dimensions.items()
    }


def _embed_missing(incident_ids):
    have = set(queries.base_vectors(incident_ids))
    missing = [incident_id for incident_id in incident_ids if incident_id not in have]
    if missing:
        embed_incidents(missing)


def _option_vectors(infos):
    """Base-model vectors of every option's text, per dimension: the zero-shot prior."""
    return {info.key: embeddings.encode([option.text for option in info.options]) for info in infos}


@lru_cache(maxsize=4)
def _load_suggester(model_pk):
    """Unpickle a stored model once per process; rows are immutable, so the pk is the cache key."""
    state = SuggestionModel.objects.values_list("state", flat=True).get(pk=model_pk)
    # Our own pickle, written by train_suggestion_model into our own database.
    return pickle.loads(bytes(state))  # noqa: S301


def current_suggester(taxonomy):
    """(Suggester, version) to suggest with: the latest stored model, or zero-shot when none."""
    latest = queries.latest_suggestion_model(taxonomy)
    if latest is not None:
        return _load_suggester(latest.pk), latest.version
    infos = queries.dimension_infos(taxonomy)
    version = f"{METHOD}-zero-shot:{taxonomy.key}@v{taxonomy.version}"
    return training.untrained_suggester(infos, _option_vectors(infos)), version


@dataclass
class SuggestResult:
    incidents: int = 0
    suggestions: int = 0
    version: str = ""


def suggest_labels(taxonomy, incident_ids=None, *, train=True):
    """(Re)compute the suggestions of incidents without a decision; return a SuggestResult.

    Trains first when enough new decisions arrived (`train=False` leaves that to the
    background task). Safe to run twice: rows are upserted per (incident, option), and the
    options no longer suggested for an incident's dimension are removed.
    """
    if train:
        train_if_needed(taxonomy)
    suggester, version = current_suggester(taxonomy)
    ids = queries.undecided_incident_ids(taxonomy) if incident_ids is None else list(incident_ids)
    result = SuggestResult(version=version)
    for start in range(0, len(ids), SUGGEST_BATCH):
        batch = ids[start : start + SUGGEST_BATCH]
        result.suggestions += _suggest_batch(taxonomy, suggester, version, batch)
        result.incidents += len(batch)
    return result


def _suggest_batch(taxonomy, suggester, version, incident_ids):
    _embed_missing(incident_ids)
    vectors = queries.base_vectors(incident_ids)
    texts = queries.suggestion_texts([incident_id for incident_id in incident_ids if incident_id in vectors])
    ids = [incident_id for incident_id in incident_ids if incident_id in texts]  # not deleted meanwhile
    if not ids:
        return 0
    decided = queries.decided_options(taxonomy, ids)
    tuned = None
    if suggester.encoder is not None:
        tuned = suggester.vectors(tuning.token_states([texts[incident_id] for incident_id in ids]))
    neighbours = queries.nearest_decided(taxonomy, {incident_id: vectors[incident_id] for incident_id in ids})
    matrix = _stack([vectors[incident_id] for incident_id in ids])
    rows = []
    for key, model in suggester.dimensions.items():
        todo = [position for position, incident_id in enumerate(ids) if key not in decided.get(incident_id, {})]
        if todo:
            near = [_for_dimension(neighbours[ids[position]], key) for position in todo]
            zero_shot = training.zero_shot_scores(model, matrix[todo], suggester.option_vectors[key])
            todo_texts = [texts[ids[position]] for position in todo]
            raw = model.raw_scores(None if tuned is None else tuned[todo], todo_texts, near, zero_shot)
            rows.extend(_rows(model, [ids[position] for position in todo], raw, near))
    return _write(taxonomy, version, ids, rows)


def _stack(vectors):
    return np.array(vectors, dtype=np.float32)


def _for_dimension(neighbours, key):
    """The neighbours decided on this dimension, each with its options there."""
    return [
        Neighbour(neighbour.incident_id, neighbour.similarity, neighbour.options[key])
        for neighbour in neighbours
        if key in neighbour.options
    ]


def _rows(model, incident_ids, raw, neighbours):
    for incident_id, item_raw, item_neighbours in zip(incident_ids, raw, neighbours, strict=True):
        for option, score, evidence in _choices(model, item_raw, item_neighbours):
            yield incident_id, model.info.key, option, score, evidence


def _choices(model, raw, neighbours):
    """[(option key, score, evidence)] to store for one incident and dimension."""
    if model.info.multi:
        return [
            (key, round(model.calibration(score), SCORE_DIGITS), _evidence(model, key, neighbours))
            for key, score in zip(model.classes, raw, strict=True)
        ]
    key, score = model.choose(raw)
    return [(key, round(score, SCORE_DIGITS), _evidence(model, key, neighbours))]


def _evidence(model, key, neighbours):
    """The neighbours whose decision holds the option (or an option under it), closest first."""
    voters = []
    for neighbour in neighbours:
        if any(key in model.info.path_to(option) for option in neighbour.options if _known(model, option)):
            voters.append({"incident": neighbour.incident_id, "similarity": round(neighbour.similarity, SCORE_DIGITS)})
    return sorted(voters, key=lambda voter: -voter["similarity"])


def _known(model, option_key):
    return any(option.key == option_key for option in model.info.options)


@transaction.atomic
def _write(taxonomy, version, incident_ids, rows):
    """Upsert the rows and drop the batch's other suggestions on the dimensions it scored.

    Only for the incidents that still exist: they are kept from being deleted until commit.
    """
    existing = lock_existing_incidents(incident_ids)
    incident_ids = [incident_id for incident_id in incident_ids if incident_id in existing]
    rows = [row for row in rows if row[0] in existing]
    dimensions = {dimension.key: dimension for dimension in Dimension.objects.filter(taxonomy=taxonomy)}
    options = {
        (option.dimension_id, option.key): option for option in Option.objects.filter(dimension__taxonomy=taxonomy)
    }
    objects = [
        Suggestion(
            incident_id=incident_id,
            dimension=dimensions[key],
            option=options[(dimensions[key].pk, option_key)],
            score=score,
            model_version=version,
            evidence=evidence,
        )
        for incident_id, key, option_key, score, evidence in rows
    ]
    scored = {(row[0], dimensions[row[1]].pk) for row in rows}
    keep = {(suggestion.incident_id, suggestion.option.pk) for suggestion in objects}
    current = Suggestion.objects.filter(incident_id__in=incident_ids, dimension__taxonomy=taxonomy)
    stale = [
        pk
        for pk, incident_id, dimension_id, option_id in current.values_list(
            "pk", "incident_id", "dimension_id", "option_id"
        )
        if (incident_id, dimension_id) in scored and (incident_id, option_id) not in keep
    ]
    Suggestion.objects.filter(pk__in=stale).delete()
    Suggestion.objects.bulk_create(
        objects,
        update_conflicts=True,
        unique_fields=["incident", "option"],
        update_fields=["dimension", "score", "model_version", "evidence"],
    )
    return len(objects)


class TooFewDecidedError(ValueError):
    """Fewer decided incidents than cross-validation folds: every fold holds at least one out."""

    def __init__(self, taxonomy, decided, folds):
        incidents = "incident" if decided == 1 else "incidents"
        super().__init__(
            f"{decided} decided {incidents} in {taxonomy.key}: "
            f"cross-validation with {folds} folds needs at least {folds}"
        )
        self.decided = decided
        self.folds = folds


def evaluate_suggestions(taxonomy, folds=5, progress=None):
    """{dimension key: DimensionReport} of k-fold cross-validation on the decided incidents.

    Stores nothing but the vectors of decided incidents that had none yet. Raises
    TooFewDecidedError before embedding anything when there are fewer of them than folds.
    """
    if folds < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, not {folds}")
    # Counted up to `folds` only, and before embedding: the split (training._folds) would
    # otherwise fail after minutes of work. None at all is an empty report, as before.
    decided = len(queries.training_incident_ids(taxonomy, folds))
    if 0 < decided < folds:
        raise TooFewDecidedError(taxonomy, decided, folds)
    infos = queries.dimension_infos(taxonomy)
    dataset = _training_set(taxonomy, infos)
    if not len(dataset.labeled()):
        return {}
    infos = [info for info in infos if dataset.decided(info.key)]
    return training.cross_validate(dataset, infos, _option_vectors(infos), folds=folds, progress=progress)
