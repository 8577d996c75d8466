"""The suggestion model of one taxonomy: pure (numpy, scikit-learn, torch), no database.

Per dimension, four voices are blended:
- a logistic regression on the incident's vector from the fine-tuned encoder (tuning.py),
- the similarity of that vector to each option's own text (name and description),
- a logistic regression on the words and word pieces of the text (TF-IDF): it catches the
  product and model names an analyst keys on, which a 384-number summary blurs, and
- a k-nearest-neighbour vote of decided incidents (pgvector in production, exact here in
  cross-validation), which is also the evidence an analyst sees.
A dimension nobody has decided yet is suggested zero-shot from the option texts alone.
The blend is calibrated (Platt scaling fitted on held-out predictions), so a score of 0.8
means right about 80% of the time.
"""

import math
import re
from dataclasses import dataclass, field

import numpy as np

from labeling.suggestions import tuning

# Blend weights of the voices; the anchor voice is the option texts through the tuned encoder.
# Chosen by cross-validation on the status-page labels (evaluate_suggestions): the neighbour
# vote over the base vectors is the weakest voice alone (kappa ~0.4) and mostly evidence.
CLASSIFIER_WEIGHT = 0.4
ANCHOR_WEIGHT = 0.4
LEXICAL_WEIGHT = 0.2
NEIGHBOUR_WEIGHT = 0.1
# Decided incidents that vote, and how sharply a closer one counts more (softmax temperature
# over cosine similarities).
NEIGHBOURS = 10
NEIGHBOUR_TEMPERATURE = 0.05
# Temperature of the softmax over similarities to option texts (tuned encoder, and zero-shot).
ANCHOR_TEMPERATURE = tuning.ANCHOR_TEMPERATURE
ZERO_SHOT_TEMPERATURE = 0.05
# Fewer decided incidents than this (or a single option among them) trains no encoder: the
# suggestion is then the neighbours' vote blended with the option texts.
MIN_DECIDED_TO_TRAIN = 12
# Inverse regularisation of the logistic regressions; the vectors are unit length.
CLASSIFIER_C = 10.0
# A hierarchical dimension's suggestion goes one level deeper while that level's score is at least this.
CONFIDENT_SCORE = 0.5
# Held-out predictions needed to fit a calibration; fewer leave the scores as they are.
MIN_CALIBRATION_ITEMS = 10
# Scores are kept inside (0, 1): the Suggestion table's check constraint, and logits stay finite.
SCORE_FLOOR = 1e-4
# Splits a description into the clauses that are used as extra labeled examples.
_CLAUSE_SPLIT = re.compile(r"[;:,]|\balso\b|\bor\b")
MIN_CLAUSE_CHARACTERS = 3


@dataclass(frozen=True)
class OptionInfo:
    """One option as the model sees it: its key, its parent's key, and the text that describes it."""

    key: str
    text: str
    description: str = ""
    parent: str | None = None


@dataclass(frozen=True)
class DimensionInfo:
    key: str
    multi: bool
    options: tuple

    def option(self, key):
        return next(option for option in self.options if option.key == key)

    def top_of(self, key):
        option = self.option(key)
        while option.parent is not None:
            option = self.option(option.parent)
        return option.key

    def path_to(self, key):
        """Option keys from the top level down to `key`."""
        path = [key]
        while self.option(path[0]).parent is not None:
            path.insert(0, self.option(path[0]).parent)
        return path

    @property
    def hierarchical(self):
        return any(option.parent for option in self.options)


def description_clauses(description):
    """The clauses of an option's description, each a short example of the option."""
    return [
        clause.strip() for clause in _CLAUSE_SPLIT.split(description) if len(clause.strip()) >= MIN_CLAUSE_CHARACTERS
    ]


@dataclass
class Neighbour:
    """A decided incident near the one being suggested for: its id, similarity and decided options."""

    incident_id: int
    similarity: float
    options: tuple


def neighbour_vote(neighbours, classes, multi):
    """Per class, the similarity-weighted share of neighbours whose decision holds it."""
    votes = np.zeros(len(classes))
    if not neighbours:
        return votes
    index = {key: position for position, key in enumerate(classes)}
    weights = np.exp(np.array([neighbour.similarity for neighbour in neighbours]) / NEIGHBOUR_TEMPERATURE)
    for weight, neighbour in zip(weights, neighbours, strict=True):
        for key in neighbour.options:
            if key in index:
                votes[index[key]] += weight
    total = weights.sum()
    if not multi:
        total = votes.sum() or 1.0
    return votes / total


def _softmax(values, temperature):
    values = np.asarray(values, dtype=float) / temperature
    values = np.exp(values - values.max(axis=-1, keepdims=True))
    return values / values.sum(axis=-1, keepdims=True)


@dataclass
class Calibration:
    """Platt scaling of raw scores: probability = sigmoid(slope * logit(raw) + intercept)."""

    slope: float = 1.0
    intercept: float = 0.0

    @classmethod
    def fit(cls, scored):
        """Fit on (raw score, was it right) pairs of held-out predictions."""
        if len(scored) < MIN_CALIBRATION_ITEMS or len({right for _, right in scored}) < 2:
            return cls()
        from sklearn.linear_model import LogisticRegression

        logits = np.array([[_logit(raw)] for raw, _ in scored])
        outcomes = np.array([bool(right) for _, right in scored])
        model = LogisticRegression(C=1.0).fit(logits, outcomes)
        return cls(slope=float(model.coef_[0][0]), intercept=float(model.intercept_[0]))

    def __call__(self, raw):
        score = 1.0 / (1.0 + math.exp(-(self.slope * _logit(raw) + self.intercept)))
        return min(1.0 - SCORE_FLOOR, max(SCORE_FLOOR, score))


def _logit(score):
    score = min(1.0 - SCORE_FLOOR, max(SCORE_FLOOR, float(score)))
    return math.log(score / (1.0 - score))


@dataclass
class DimensionModel:
    """What was learned for one dimension: its classes and the voices that score them."""

    info: DimensionInfo
    classes: list
    classifier: object = None
    anchors: np.ndarray | None = None
    lexical: object = None
    calibration: Calibration = field(default_factory=Calibration)
    top_calibration: Calibration = field(default_factory=Calibration)

    @property
    def trained(self):
        return self.classifier is not None

    def raw_scores(self, vectors, texts, neighbours, zero_shot):
        """[items, classes] blended, uncalibrated scores.

        `vectors` are the items' vectors from the tuned encoder and `texts` their suggestion
        texts (both unused when this dimension was not trained), `neighbours` their decided
        neighbours, `zero_shot` their [items, classes] similarity to the option texts
        through the base model.
        """
        votes = np.array([neighbour_vote(near, self.classes, self.info.multi) for near in neighbours])
        if not self.trained:
            prior = zero_shot if self.info.multi else _softmax(zero_shot, ZERO_SHOT_TEMPERATURE)
            voted = np.array([bool(near) for near in neighbours])[:, None]
            return np.where(voted, (votes + prior) / 2, prior)
        if self.info.multi:
            learned = self._multi_probabilities(vectors)
            return (CLASSIFIER_WEIGHT * learned + NEIGHBOUR_WEIGHT * votes) / (CLASSIFIER_WEIGHT + NEIGHBOUR_WEIGHT)
        learned = self._probabilities(self.classifier, vectors)
        by_text = _softmax(vectors @ self.anchors.T, ANCHOR_TEMPERATURE)
        blend = CLASSIFIER_WEIGHT * learned + ANCHOR_WEIGHT * by_text + NEIGHBOUR_WEIGHT * votes
        weight = CLASSIFIER_WEIGHT + ANCHOR_WEIGHT + NEIGHBOUR_WEIGHT
        if self.lexical is not None:
            blend += LEXICAL_WEIGHT * self._probabilities(self.lexical, list(texts))
            weight += LEXICAL_WEIGHT
        return blend / weight

    def _probabilities(self, classifier, inputs):
        """[items, classes] of a classifier that saw only some classes in training (the rest 0)."""
        found = np.zeros((len(inputs), len(self.classes)))
        found[:, classifier.classes_] = classifier.predict_proba(inputs)
        return found

    def _multi_probabilities(self, vectors):
        columns = []
        for classifier in self.classifier:
            if isinstance(classifier, float):  # an option always or never chosen in training
                columns.append(np.full(len(vectors), classifier))
            else:
                columns.append(classifier.predict_proba(vectors)[:, 1])
        return np.stack(columns, axis=1)

    def top_level_scores(self, raw):
        """Roll decision-level scores up to the top-level options: {top key: summed score}."""
        totals = {}
        for key, score in zip(self.classes, raw, strict=True):
            top = self.info.top_of(key)
            totals[top] = totals.get(top, 0.0) + float(score)
        return totals

    def choose(self, raw):
        """The suggestion for one item of a single-valued dimension: (option key, calibrated score).

        A hierarchical dimension is suggested at the deepest level that is confident: the
        best top-level option, or its best sub-option when that one scores CONFIDENT_SCORE.
        """
        best = self.classes[int(np.argmax(raw))]
        if not self.info.hierarchical:
            return best, self.calibration(float(np.max(raw)))
        tops = self.top_level_scores(raw)
        top = max(tops, key=tops.get)
        under = [
            (float(score), key) for key, score in zip(self.classes, raw, strict=True) if self.info.top_of(key) == top
        ]
        score, key = max(under)
        calibrated = self.calibration(score)
        if key != top and calibrated >= CONFIDENT_SCORE:
            return key, calibrated
        return top, self.top_calibration(tops[top])


def trainable(info, labels):
    """The classes of a dimension to train on these labels, or None when there are too few decisions."""
    classes = _classes(info, labels)
    if len(labels) < MIN_DECIDED_TO_TRAIN or len(classes) < 2:
        return None
    return classes


def task_for(info, classes, labels, clause_labels, anchor_states):
    """The encoder's Task for one dimension: labels of the decided items, then of the clauses.

    `labels` hold an option-key tuple per training item (None where undecided on this
    dimension); `clause_labels` the option key of every clause in the training texts, or
    None for another dimension's clause. Multi-valued dimensions learn which incidents
    share a value set, and have no clauses or option texts to be near.
    """
    option_keys = [option.key for option in info.options]
    class_anchor_states = [anchor_states[option_keys.index(key)] for key in classes]
    index = {key: position for position, key in enumerate(classes)}
    no_label = tuning.NO_LABEL
    if info.multi:
        sets = {value: position for position, value in enumerate(sorted({v for v in labels if v is not None}))}
        contrastive = [no_label if value is None else sets[value] for value in labels]
        contrastive += [no_label] * len(clause_labels)
        return tuning.Task(contrastive, [no_label] * len(contrastive), class_anchor_states)
    targets = [no_label if value is None else index.get(value[0], no_label) for value in labels]
    targets += [index.get(key, no_label) for key in clause_labels]
    return tuning.Task(targets, targets, class_anchor_states)


def fit_heads(info, classes, vectors, labels, task, anchor_vectors, texts):
    """Fit a dimension's classifiers: on the tuned vectors of its training texts (clauses
    included), and on the words of the items' texts.

    `labels` are the option-key tuples of the training items, as given to task_for, and
    `texts` those items' suggestion texts.
    """
    if info.multi:
        known = [position for position, value in enumerate(labels) if value is not None]
        fitted = _fit_multi(vectors[known], [labels[position] for position in known], classes)
        return DimensionModel(info, classes, fitted)
    known = np.array(task.contrastive) != tuning.NO_LABEL
    targets = np.array(task.contrastive)[known]
    classifier = _logistic().fit(vectors[known], targets)
    items = [position for position, value in enumerate(labels) if value is not None]
    item_targets = np.array(task.contrastive)[items]
    lexical = None
    if len(set(item_targets)) > 1:
        lexical = _lexical().fit([texts[position] for position in items], item_targets)
    return DimensionModel(info, classes, classifier, anchor_vectors, lexical)


def _classes(info, labels):
    """The options decided in training, in the dimension's order: the level the decisions use."""
    decided = {key for value in labels for key in value}
    return [option.key for option in info.options if option.key in decided]


def _logistic():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=CLASSIFIER_C, max_iter=3000, class_weight="balanced")


def _lexical():
    """TF-IDF of words and word pairs, and of 2-5 character pieces within words, then a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline, make_union

    return make_pipeline(
        make_union(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
        _logistic(),
    )


def _fit_multi(vectors, labels, classes):
    """One logistic regression per option (or its constant rate when training never varies)."""
    fitted = []
    for key in classes:
        outcome = np.array([key in value for value in labels])
        if outcome.all() or not outcome.any():
            fitted.append(float(outcome.mean()))
        else:
            fitted.append(_logistic().fit(vectors, outcome))
    return fitted


def single_outcomes(model, raw_rows, truths):
    """(raw score, right) pairs of the best class of each item; for fitting a calibration."""
    scored = []
    for raw, truth in zip(raw_rows, truths, strict=True):
        best = model.classes[int(np.argmax(raw))]
        scored.append((float(np.max(raw)), best in truth))
    return scored


def top_outcomes(model, raw_rows, truths):
    """(raw score, right) of the best top-level option of each item."""
    scored = []
    for raw, truth in zip(raw_rows, truths, strict=True):
        tops = model.top_level_scores(raw)
        top = max(tops, key=tops.get)
        scored.append((tops[top], top in {model.info.top_of(key) for key in truth}))
    return scored


def multi_outcomes(model, raw_rows, truths):
    """(raw score, chosen) of every option of every item of a multi-valued dimension."""
    return [
        (float(score), key in truth)
        for raw, truth in zip(raw_rows, truths, strict=True)
        for key, score in zip(model.classes, raw, strict=True)
    ]


def calibrate(model, raw_rows, truths):
    """Fit the model's calibrations on held-out raw scores and the decided values."""
    if model.info.multi:
        model.calibration = Calibration.fit(multi_outcomes(model, raw_rows, truths))
        return model
    model.calibration = Calibration.fit(single_outcomes(model, raw_rows, truths))
    model.top_calibration = Calibration.fit(top_outcomes(model, raw_rows, truths))
    return model
