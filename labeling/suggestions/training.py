"""Training and cross-validation of a taxonomy's suggestion model: pure, no database.

The caller (labeling.actions.suggestions) loads a Dataset of decided incidents and of
undecided ones; this module fits one DimensionModel per dimension, calibrates it on held-out
incidents, and measures it by k-fold cross-validation for `evaluate_suggestions`.

Training is self-training: a first fit on the decided incidents scores the undecided ones,
those it is sure of join the training set with that suggestion as their label, and the
encoder and heads are fitted again. A team has far more undecided incidents than decided
ones, and their texts teach the encoder how the team writes about each option. On the
status-page labels (evaluate_suggestions, 5 folds) symptom's kappa rose from 0.66 to 0.69,
with each learned voice gaining (option texts 0.64 -> 0.69, words 0.47 -> 0.64); category's
stayed at 0.65. It costs a second fit, so training takes about twice as long.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from labeling.suggestions import metrics, tuning
from labeling.suggestions.model import (
    NEIGHBOURS,
    Calibration,
    DimensionModel,
    Neighbour,
    calibrate,
    description_clauses,
    fit_heads,
    task_for,
    trainable,
)

# Share of the decided incidents held out to fit the production model's calibration; the
# model is then refitted on all of them, and the calibration carried over.
CALIBRATION_SHARE = 0.2
# A multi-valued dimension's suggestion holds every option scored at least this.
MULTI_THRESHOLD = 0.5
# An undecided incident joins the second fit, labeled with its suggestion, when the first
# fit's blended score for it is at least this (about two thirds of the undecided
# status-page incidents on each dimension). Multi-valued dimensions learn from decisions only.
SELF_TRAINING_SCORE = 0.7
SEED = 0


@dataclass
class Dataset:
    """Decided incidents: their ids, texts, stored vectors, and decided options per dimension.

    `labels[dimension key][i]` is the tuple of option keys decided for item i, or None when
    that incident has no decision on the dimension.
    """

    incident_ids: list
    texts: list
    vectors: np.ndarray
    labels: dict

    def decided(self, dimension_key):
        return [index for index, value in enumerate(self.labels[dimension_key]) if value is not None]

    def labeled(self):
        """Indexes of the items decided on at least one dimension."""
        return np.array(
            [
                index
                for index in range(len(self.incident_ids))
                if any(v[index] is not None for v in self.labels.values())
            ],
            dtype=int,
        )

    def unlabeled(self):
        """Indexes of the items decided on no dimension: the self-training pool."""
        return np.setdiff1d(np.arange(len(self.incident_ids)), self.labeled())

    def hiding(self, indices):
        """A copy in which the items at `indices` are undecided: held-out items join the pool unlabeled."""
        hidden = {int(index) for index in indices}
        labels = {
            key: [None if index in hidden else value for index, value in enumerate(values)]
            for key, values in self.labels.items()
        }
        return Dataset(self.incident_ids, self.texts, self.vectors, labels)

    def relabeled(self, pseudo):
        """A copy with `pseudo` ({dimension key: {index: option-key tuple}}) filled in."""
        labels = {key: list(values) for key, values in self.labels.items()}
        for key, chosen in pseudo.items():
            for index, value in chosen.items():
                labels[key][index] = value
        return Dataset(self.incident_ids, self.texts, self.vectors, labels)


@dataclass
class Suggester:
    """What suggests for a taxonomy: the tuned encoder (None before any training), a model per
    dimension, and the base vectors of the option texts for zero-shot."""

    encoder: object
    dimensions: dict
    option_vectors: dict

    def vectors(self, states):
        """Tuned vectors of items given as token states; None when nothing was trained."""
        return None if self.encoder is None else self.encoder.encode_states(states)


def untrained_suggester(infos, option_vectors):
    """A Suggester that knows only the option texts (and neighbours): zero-shot."""
    models = {info.key: DimensionModel(info, [option.key for option in info.options]) for info in infos}
    return Suggester(None, models, option_vectors)


def exact_neighbours(vectors, candidates, candidate_labels, k=NEIGHBOURS):
    """[[Neighbour]] of each vector among the candidates (cosine, exact): cross-validation's kNN."""
    if not len(candidates):
        return [[] for _ in vectors]
    similarity = vectors @ candidates.T
    found = []
    for row in similarity:
        order = np.argsort(-row)[:k]
        found.append([Neighbour(int(index), float(row[index]), candidate_labels[index]) for index in order])
    return found


@dataclass
class _Shared:
    """Token states computed once per training run: the items (whole and lead), option texts and
    description clauses."""

    states: list
    lead_states: list
    anchor_states: dict
    clause_states: dict
    clause_labels: dict
    option_vectors: dict


def _shared(dataset, infos, option_vectors):
    texts = list(dataset.texts)
    anchors, clauses = {}, {}
    for info in infos:
        anchors[info.key] = [option.text for option in info.options]
        clauses[info.key] = [
            (clause, option.key) for option in info.options for clause in description_clauses(option.description)
        ]
    all_extra = [text for key in anchors for text in anchors[key]] + [c for key in clauses for c, _ in clauses[key]]
    states = tuning.token_states(texts + all_extra)
    item_states, rest = states[: len(texts)], iter(states[len(texts) :])
    anchor_states = {key: [next(rest) for _ in anchors[key]] for key in anchors}
    clause_states = {key: [next(rest) for _ in clauses[key]] for key in clauses}
    clause_labels = {key: [option for _, option in clauses[key]] for key in clauses}
    lead_states = tuning.token_states(texts, tuning.LEAD_TOKENS)
    return _Shared(item_states, lead_states, anchor_states, clause_states, clause_labels, option_vectors)


def _fit(infos, dataset, shared, indices, seed, pool=()):
    """Fit on the items at `indices`, then again with the `pool` items the first fit is sure of."""
    suggester = _fit_once(infos, dataset, shared, indices, seed)
    if suggester.encoder is None or not len(pool):
        return suggester
    pseudo = _pseudo_labels(suggester, dataset, shared, indices, np.asarray(pool, dtype=int))
    chosen = sorted({index for by_index in pseudo.values() for index in by_index})
    if not chosen:
        return suggester
    return _fit_once(infos, dataset.relabeled(pseudo), shared, np.concatenate([indices, chosen]), seed)


def _pseudo_labels(suggester, dataset, shared, indices, pool):
    """{dimension key: {pool index: (option key,)}} of the pool items scored at least SELF_TRAINING_SCORE."""
    raw = _raw(suggester, dataset, shared, indices, pool)
    pseudo = {}
    for key, model in suggester.dimensions.items():
        if not model.trained or model.info.multi:
            continue
        best = raw[key].argmax(axis=1)
        sure = raw[key].max(axis=1) >= SELF_TRAINING_SCORE
        pseudo[key] = {int(index): (model.classes[best[row]],) for row, index in enumerate(pool) if sure[row]}
    return pseudo


def _fit_once(infos, dataset, shared, indices, seed):
    """One encoder tuned on every trainable dimension at once, then each dimension's heads.

    The training texts are the items, then every description clause; a clause is an example
    of its own option and unlabeled for the other dimensions. The encoder learns from the
    items' whole texts and their leads (tuning.READINGS); the heads, like suggestions, read
    the whole text.
    """
    clause_owner = [(info.key, key) for info in infos for key in shared.clause_labels[info.key]]
    clauses = [state for info in infos for state in shared.clause_states[info.key]]
    texts = [shared.states[index] for index in indices] + clauses
    leads = [shared.lead_states[index] for index in indices] + clauses
    plans = []
    for info in infos:
        labels = [dataset.labels[info.key][index] for index in indices]
        classes = trainable(info, [value for value in labels if value is not None])
        if classes is not None:
            clause_labels = [key if owner == info.key else None for owner, key in clause_owner]
            plans.append(
                (info, classes, labels, task_for(info, classes, labels, clause_labels, shared.anchor_states[info.key]))
            )
    models = {info.key: DimensionModel(info, [option.key for option in info.options]) for info in infos}
    if not plans:
        return Suggester(None, models, shared.option_vectors)
    tasks = [reading for *_, task in plans for reading in tuning.in_every_reading(task)]
    encoder = tuning.TunedEncoder.fit(dict(zip(tuning.READINGS, (texts, leads), strict=True)), tasks, seed=seed)
    vectors = encoder.encode_states(texts)
    item_texts = [dataset.texts[index] for index in indices]
    for info, classes, labels, task in plans:
        anchors = encoder.encode_states(task.anchor_states)
        models[info.key] = fit_heads(info, classes, vectors, labels, task, anchors, item_texts)
    return Suggester(encoder, models, shared.option_vectors)


def _raw(suggester, dataset, shared, train, test):
    """{dimension key: raw scores of the test items}, neighbours drawn from the training items only."""
    vectors = suggester.vectors([shared.states[index] for index in test])
    raw = {}
    for key, model in suggester.dimensions.items():
        decided_train = [index for index in train if dataset.labels[key][index] is not None]
        labels = [dataset.labels[key][index] for index in decided_train]
        neighbours = exact_neighbours(dataset.vectors[test], dataset.vectors[decided_train], labels)
        zero_shot = zero_shot_scores(model, dataset.vectors[test], shared.option_vectors[key])
        texts = [dataset.texts[index] for index in test]
        raw[key] = model.raw_scores(vectors, texts, neighbours, zero_shot)
    return raw


def zero_shot_scores(model, vectors, option_vectors):
    """[items, classes] cosine of each base vector to each class's option text."""
    keys = [option.key for option in model.info.options]
    columns = [keys.index(key) for key in model.classes]
    return vectors @ option_vectors[columns].T


def train_suggester(dataset, infos, option_vectors, seed=SEED):
    """Fit every dimension on the dataset, calibrated on a held-out share; return a Suggester.

    The calibration is fitted on the held-out incidents' scores from a probe model trained
    on the rest (the held-out ones join its pool, unlabeled, as undecided incidents do);
    the returned model is then trained on all of them and keeps that calibration.
    """
    shared = _shared(dataset, infos, option_vectors)
    labeled, pool = dataset.labeled(), dataset.unlabeled()
    held = np.random.default_rng(seed).permutation(labeled)[: round(len(labeled) * CALIBRATION_SHARE)]
    rest = np.setdiff1d(labeled, held)
    probe = _fit(infos, dataset.hiding(held), shared, rest, seed, np.concatenate([pool, held]))
    suggester = _fit(infos, dataset, shared, labeled, seed, pool)
    if probe.encoder is not None and len(held):
        raw = _raw(probe, dataset, shared, rest, held)
        for key, model in suggester.dimensions.items():
            decided = [(row, dataset.labels[key][index]) for row, index in zip(raw[key], held, strict=True)]
            decided = [(row, truth) for row, truth in decided if truth is not None]
            if model.trained and probe.dimensions[key].classes == model.classes and decided:
                calibrate(model, [row for row, _ in decided], [truth for _, truth in decided])
    return suggester


# Cross-validation


@dataclass
class _Outcome:
    """One held-out prediction: what was decided, what the fold's model said, and its raw score."""

    fold: int
    truth: tuple
    predicted: str
    raw: float
    top_predicted: str = ""
    top_raw: float = 0.0
    option_raws: dict = field(default_factory=dict)


def cross_validate(dataset, infos, option_vectors, folds=5, seed=SEED, progress=None):
    """{dimension key: DimensionReport} of k-fold cross-validation over the decided incidents.

    A fold's held-out incidents are in its self-training pool without their labels, as the
    undecided incidents a model suggests for are in production. Each fold's scores are
    calibrated on the other folds' held-out predictions, so no score is fitted on the
    incident it is measured on. `progress(fold, seconds)` is called after each fold.
    """
    shared = _shared(dataset, infos, option_vectors)
    outcomes = {info.key: [] for info in infos}
    pool = dataset.unlabeled()
    for fold, (train, test) in enumerate(_folds(dataset, infos, folds, seed)):
        started = time.perf_counter()
        suggester = _fit(infos, dataset.hiding(test), shared, train, seed, np.concatenate([pool, test]))
        raw = _raw(suggester, dataset, shared, train, test)
        for key, model in suggester.dimensions.items():
            rows = [(row, dataset.labels[key][index]) for row, index in zip(raw[key], test, strict=True)]
            rows = [(row, truth) for row, truth in rows if truth is not None]
            outcomes[key].extend(_outcomes(model, [row for row, _ in rows], [truth for _, truth in rows], fold))
        if progress is not None:
            progress(fold, time.perf_counter() - started)
    return {info.key: _report(info, outcomes[info.key], folds) for info in infos if outcomes[info.key]}


def _folds(dataset, infos, folds, seed):
    """(train, test) indexes of the decided items, stratified by the first dimension's decision
    when every value allows it."""
    from sklearn.model_selection import KFold, StratifiedKFold

    labeled = dataset.labeled()
    first = [str(dataset.labels[infos[0].key][index]) for index in labeled]
    counts = {value: first.count(value) for value in first}
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if min(counts.values()) >= folds
        else KFold(folds, shuffle=True, random_state=seed)
    )
    for train, test in splitter.split(labeled, first):
        yield labeled[train], labeled[test]


def _outcomes(model, raw_rows, truths, fold):
    found = []
    for raw, truth in zip(raw_rows, truths, strict=True):
        best = int(np.argmax(raw))
        tops = model.top_level_scores(raw)
        top = max(tops, key=tops.get)
        found.append(
            _Outcome(
                fold=fold,
                truth=truth,
                predicted=model.classes[best],
                raw=float(raw[best]),
                top_predicted=top,
                top_raw=tops[top],
                option_raws={key: float(score) for key, score in zip(model.classes, raw, strict=True)},
            )
        )
    return found


def _report(info, outcomes, folds):
    """Calibrate each fold on the others, then score it against the decisions."""
    pairs, scored = [], []
    for fold in range(folds):
        others = [outcome for outcome in outcomes if outcome.fold != fold]
        mine = [outcome for outcome in outcomes if outcome.fold == fold]
        if info.multi:
            calibration = Calibration.fit([(raw, key in o.truth) for o in others for key, raw in o.option_raws.items()])
            for outcome in mine:
                scores = {key: calibration(raw) for key, raw in outcome.option_raws.items()}
                chosen = {key for key, score in scores.items() if score >= MULTI_THRESHOLD}
                chosen = chosen or {max(scores, key=scores.get)}
                pairs.append(("+".join(sorted(outcome.truth)), "+".join(sorted(chosen))))
                scored.extend((score, key in outcome.truth) for key, score in scores.items())
            continue
        calibration = Calibration.fit([(o.raw, o.predicted in o.truth) for o in others])
        for outcome in mine:
            pairs.append((outcome.truth[0], outcome.predicted))
            scored.append((calibration(outcome.raw), outcome.predicted in outcome.truth))
    return metrics.dimension_report(info.key, pairs, scored)
