"""Reads behind agreement figures: which annotators labeled the same incidents, and how alike.

Pairs come from current, non-adjudication annotations by people (imported ones included):
an adjudicator's ruling is left out because it settles a disagreement rather than rating
blind. The arithmetic is labeling.agreement's; these functions only gather its input.
"""

from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations

from labeling import agreement
from labeling.choices import AnnotationSource
from labeling.models import Annotation

# How a multi-valued answer (hotfix and rollback) is shown as one category for kappa.
VALUE_SET_SEPARATOR = "+"


@dataclass
class PairAgreement:
    """Agreement of two annotators on one dimension, over the incidents both labeled."""

    dimension: object
    annotators: tuple
    items: int
    observed: float | None
    kappa: float | None
    values: list
    confusion: list


def current_values(dimension):
    """{incident_id: {username: value}} of the people's current, non-adjudication annotations.

    A multi-valued answer becomes its sorted option keys joined by VALUE_SET_SEPARATOR, so
    two annotators agree only when they chose the same set.
    """
    rows = (
        Annotation.objects.filter(dimension=dimension, is_current=True, is_adjudication=False)
        .exclude(source=AnnotationSource.MODEL)
        .values_list("incident_id", "annotator__username", "options__key")
        .order_by("incident_id")
    )
    chosen = defaultdict(lambda: defaultdict(set))
    for incident_id, username, option_key in rows:
        if option_key is not None:
            chosen[incident_id][username].add(option_key)
    return {
        incident_id: {username: VALUE_SET_SEPARATOR.join(sorted(keys)) for username, keys in by_user.items()}
        for incident_id, by_user in chosen.items()
    }


@dataclass
class DimensionAgreement:
    """Agreement on one dimension: all annotators at once (Fleiss' kappa), and pair by pair."""

    dimension: object
    items: int  # incidents labeled by two or more annotators
    annotators: int  # annotators who labeled any of them
    fleiss: float | None
    pairs: list  # [PairAgreement], most items first


def annotation_pairs(dimension, values=None):
    """{(first, second): [(first's value, second's value), ...]} per pair of usernames.

    Usernames in a pair are in alphabetical order; items are in incident id order. `values`
    are the dimension's current_values when the caller has them already.
    """
    pairs = defaultdict(list)
    for _incident_id, by_user in sorted((current_values(dimension) if values is None else values).items()):
        for first, second in combinations(sorted(by_user), 2):
            pairs[(first, second)].append((by_user[first], by_user[second]))
    return dict(pairs)


def list_pair_agreement(dimension, values=None):
    """[PairAgreement] for every pair of annotators who labeled the same incidents, most items first."""
    option_keys = list(dimension.options.order_by("order", "id").values_list("key", flat=True))
    results = []
    for annotators, pairs in annotation_pairs(dimension, values).items():
        seen = {value for pair in pairs for value in pair}
        ordered = [key for key in option_keys if key in seen] + sorted(seen - set(option_keys))
        ordered, confusion = agreement.confusion_matrix(pairs, ordered)
        results.append(
            PairAgreement(
                dimension=dimension,
                annotators=annotators,
                items=len(pairs),
                observed=agreement.observed_agreement(pairs),
                kappa=agreement.cohen_kappa(pairs),
                values=ordered,
                confusion=confusion,
            )
        )
    return sorted(results, key=lambda result: (-result.items, result.annotators))


def dimension_agreement(dimension):
    """The DimensionAgreement of one dimension, from one read of its annotations."""
    values = current_values(dimension)
    rated = [by_user for by_user in values.values() if len(by_user) >= 2]
    return DimensionAgreement(
        dimension=dimension,
        items=len(rated),
        annotators=len({username for by_user in rated for username in by_user}),
        fleiss=agreement.fleiss_kappa([list(by_user.values()) for by_user in rated]),
        pairs=list_pair_agreement(dimension, values),
    )


def list_taxonomy_agreement(taxonomy):
    """[DimensionAgreement] of every dimension of the taxonomy, in its order."""
    return [dimension_agreement(dimension) for dimension in taxonomy.dimensions.order_by("order", "id")]
