"""Quality figures of suggestions against human decisions: pure, no database, no model.

`evaluate_suggestions` prints these per dimension; the kappa is labeling.agreement's, so the
model is measured exactly as two analysts are.
"""

import itertools
from collections import defaultdict
from dataclasses import dataclass

from labeling.agreement import cohen_kappa

# Score bins of the calibration table: a suggestion scored 0.8 should be right ~80% of the time.
CALIBRATION_BIN_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0)


@dataclass
class CalibrationBin:
    low: float
    high: float
    count: int
    mean_score: float | None
    accuracy: float | None


@dataclass
class DimensionReport:
    """Held-out quality of one dimension's suggestions."""

    dimension: str
    items: int
    accuracy: float | None
    macro_f1: float | None
    kappa: float | None
    calibration: list
    expected_calibration_error: float | None


def accuracy(pairs):
    """Share of (decided, suggested) pairs that match; None without pairs."""
    if not pairs:
        return None
    return sum(1 for truth, guess in pairs if truth == guess) / len(pairs)


def macro_f1(pairs):
    """Unweighted mean F1 over the values the humans decided (rare categories count as much)."""
    if not pairs:
        return None
    true_positive, predicted, actual = defaultdict(int), defaultdict(int), defaultdict(int)
    for truth, guess in pairs:
        actual[truth] += 1
        predicted[guess] += 1
        if truth == guess:
            true_positive[truth] += 1
    scores = []
    for value in actual:
        precision = true_positive[value] / predicted[value] if predicted[value] else 0.0
        recall = true_positive[value] / actual[value]
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def calibration_table(scored, edges=CALIBRATION_BIN_EDGES):
    """[CalibrationBin] from (score, correct) pairs; the last bin includes a score of exactly 1."""
    bins = []
    for index, (low, high) in enumerate(itertools.pairwise(edges)):
        last = index == len(edges) - 2
        members = [(score, correct) for score, correct in scored if low <= score < high or (last and score == high)]
        count = len(members)
        bins.append(
            CalibrationBin(
                low=low,
                high=high,
                count=count,
                mean_score=sum(score for score, _ in members) / count if count else None,
                accuracy=sum(1 for _, correct in members if correct) / count if count else None,
            )
        )
    return bins


def expected_calibration_error(bins):
    """Mean gap between score and accuracy, weighted by how many suggestions fall in each bin."""
    total = sum(item.count for item in bins)
    if not total:
        return None
    return sum(item.count * abs(item.mean_score - item.accuracy) for item in bins if item.count) / total


def dimension_report(dimension, pairs, scored):
    """Everything `evaluate_suggestions` prints for one dimension.

    `pairs` are (decided, suggested) values at the level the decisions use; `scored` are
    (score, correct) of the same suggestions, for the calibration table.
    """
    bins = calibration_table(scored)
    return DimensionReport(
        dimension=dimension,
        items=len(pairs),
        accuracy=accuracy(pairs),
        macro_f1=macro_f1(pairs),
        kappa=cohen_kappa(pairs),
        calibration=bins,
        expected_calibration_error=expected_calibration_error(bins),
    )
