"""Agreement between annotators: pure functions, no database.

`pairs` are the two values two annotators gave the same items, in item order; `ratings`
(for Fleiss) are, per item, the values of every annotator who rated it.
"""

from collections import Counter


def observed_agreement(pairs):
    """Share of items on which both annotators chose the same value; None without items."""
    if not pairs:
        return None
    return sum(1 for first, second in pairs if first == second) / len(pairs)


def cohen_kappa(pairs):
    """Cohen's kappa of two annotators: agreement beyond what their label rates predict.

    Returns None without items, and 1.0 when both used one and the same value throughout
    (perfect agreement that chance cannot be separated from; scikit-learn returns NaN there).
    """
    if not pairs:
        return None
    count = len(pairs)
    observed = observed_agreement(pairs)
    first_rates = Counter(first for first, _ in pairs)
    second_rates = Counter(second for _, second in pairs)
    expected = sum(first_rates[value] * second_rates[value] for value in first_rates) / (count * count)
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def confusion_matrix(pairs, values=None):
    """(values, rows): rows[i][j] counts items the first annotator put in values[i], the second in values[j]."""
    values = list(values) if values is not None else sorted({value for pair in pairs for value in pair})
    index = {value: position for position, value in enumerate(values)}
    rows = [[0] * len(values) for _ in values]
    for first, second in pairs:
        rows[index[first]][index[second]] += 1
    return values, rows


def fleiss_kappa(ratings):
    """Fleiss' kappa of items rated by two or more annotators each, however many.

    Each item's agreement is the share of its rater pairs that agree, so items with more
    raters are not dropped: with the same number on every item this is Fleiss (1971), and
    with two it is Scott's pi. Items rated once say nothing about agreement and are left
    out. Returns None without an item rated twice, and 1.0 when every rating is one value.
    """
    items = [Counter(item) for item in ratings if len(item) >= 2]
    if not items:
        return None
    observed = sum(_agreeing_pair_share(counts) for counts in items) / len(items)
    totals = Counter()
    for counts in items:
        totals.update(counts)
    ratings_count = sum(totals.values())
    expected = sum((n / ratings_count) ** 2 for n in totals.values())
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def _agreeing_pair_share(counts):
    raters = sum(counts.values())
    return (sum(n * n for n in counts.values()) - raters) / (raters * (raters - 1))
