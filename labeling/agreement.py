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
    """Fleiss' kappa for items each rated by the same number (at least two) of annotators.

    Items with fewer ratings than the most common count are left out, as the statistic
    assumes a fixed number of raters per item.
    """
    if not ratings:
        return None
    raters = Counter(len(item) for item in ratings).most_common(1)[0][0]
    items = [item for item in ratings if len(item) == raters]
    if raters < 2 or not items:
        return None
    totals = Counter()
    per_item_agreement = 0.0
    for item in items:
        counts = Counter(item)
        totals.update(counts)
        per_item_agreement += (sum(n * n for n in counts.values()) - raters) / (raters * (raters - 1))
    observed = per_item_agreement / len(items)
    expected = sum((n / (len(items) * raters)) ** 2 for n in totals.values())
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)
