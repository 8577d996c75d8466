"""labeling.agreement against hand computations, textbook examples and scikit-learn."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from labeling.agreement import cohen_kappa, confusion_matrix, fleiss_kappa, observed_agreement


def _pairs(table, values):
    """Expand a 2-annotator contingency table into item pairs."""
    return [(values[i], values[j]) for i, row in enumerate(table) for j, n in enumerate(row) for _ in range(n)]


def test_cohen_kappa_of_the_wikipedia_example():
    # 50 proposals: both yes 20, A yes/B no 5, A no/B yes 10, both no 15 -> kappa 0.4
    pairs = _pairs([[20, 5], [10, 15]], ["yes", "no"])
    assert observed_agreement(pairs) == pytest.approx(0.7)
    assert cohen_kappa(pairs) == pytest.approx(0.4)


def test_cohen_kappa_by_hand_with_three_values():
    pairs = [("a", "a"), ("a", "a"), ("b", "b"), ("c", "c"), ("a", "b"), ("c", "c")]
    # observed 5/6; first rates a3 b1 c2, second a2 b2 c2 -> expected (6 + 2 + 4) / 36 = 1/3
    assert cohen_kappa(pairs) == pytest.approx((5 / 6 - 1 / 3) / (1 - 1 / 3))


def test_kappa_edge_cases():
    assert cohen_kappa([]) is None
    assert observed_agreement([]) is None
    assert cohen_kappa([("a", "a"), ("a", "a")]) == 1.0
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)


def test_confusion_matrix():
    values, rows = confusion_matrix([("a", "a"), ("a", "b"), ("b", "b"), ("b", "b")], ["a", "b"])
    assert values == ["a", "b"]
    assert rows == [[1, 1], [0, 2]]


def test_fleiss_kappa_of_the_wikipedia_example():
    # Fleiss (1971) as on Wikipedia: 10 items, 14 raters, 5 categories -> kappa 0.210
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    ratings = [[category for category, n in enumerate(row) for _ in range(n)] for row in table]
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=0.001)


def test_fleiss_equals_a_known_value_for_two_raters():
    # With two raters Fleiss' kappa is Scott's pi: here observed 0.7, pooled rates 0.55/0.45
    pairs = _pairs([[20, 5], [10, 15]], ["yes", "no"])
    expected = 0.55**2 + 0.45**2
    assert fleiss_kappa([list(pair) for pair in pairs]) == pytest.approx((0.7 - expected) / (1 - expected))


def test_fleiss_kappa_keeps_items_with_more_or_fewer_raters():
    # Items of two raters agree, the one of three splits a, b, b: a third of its rater pairs agree.
    ratings = [["a", "a"], ["b", "b"], ["a", "b", "b"]]
    observed = (1 + 1 + 1 / 3) / 3
    expected = (3 / 7) ** 2 + (4 / 7) ** 2
    assert fleiss_kappa(ratings) == pytest.approx((observed - expected) / (1 - expected))
    # Items rated once say nothing about agreement: only the two items rated twice count.
    assert fleiss_kappa([["a"], ["b"], ["c"], ["a", "a"], ["b", "b"]]) == pytest.approx(1.0)


def test_fleiss_kappa_does_not_depend_on_item_order():
    ratings = [["a", "b"], ["a", "a", "a"], ["b", "b"]]
    assert fleiss_kappa(ratings) == pytest.approx(fleiss_kappa(list(reversed(ratings))))


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.sampled_from("abcd")), min_size=1, max_size=60))
def test_cohen_kappa_matches_scikit_learn(pairs):
    first, second = zip(*pairs, strict=True)
    reference = cohen_kappa_score(first, second)
    ours = cohen_kappa(pairs)
    if math.isnan(reference):
        assert ours == 1.0  # one value used by both throughout
    else:
        assert ours == pytest.approx(reference, abs=1e-9)
