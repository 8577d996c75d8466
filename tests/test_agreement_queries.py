"""Agreement figures read from stored annotations match a hand computation."""

import json
from collections import Counter, defaultdict

import pytest

from labeling.actions import save_annotation
from labeling.agreement_queries import annotation_pairs, list_pair_agreement, list_taxonomy_agreement
from labeling.models import Option, Taxonomy
from tests.shared_data import DATA_DIR, load_status_page_data, needs_data


def _option(taxonomy, key):
    return Option.objects.select_related("dimension").get(dimension__taxonomy=taxonomy, key=key)


def test_pairs_leave_out_adjudications_and_old_values(taxonomy, make_incident, alice, bob, adam):
    first, second = make_incident(), make_incident()
    timeout, crash = _option(taxonomy, "timeout"), _option(taxonomy, "crash")
    category = timeout.dimension
    save_annotation(first, category, alice, [crash])
    save_annotation(first, category, alice, [timeout])  # replaces crash
    save_annotation(first, category, bob, [timeout])
    save_annotation(second, category, alice, [timeout])
    save_annotation(second, category, bob, [crash])
    save_annotation(second, category, adam, [crash], adjudication=True)
    assert annotation_pairs(category) == {("alice", "bob"): [("timeout", "timeout"), ("timeout", "crash")]}


def test_pair_agreement_of_a_small_example(taxonomy, make_incident, alice, bob):
    timeout, crash = _option(taxonomy, "timeout"), _option(taxonomy, "crash")
    category = timeout.dimension
    # alice: T T C C, bob: T C C C -> observed 3/4; expected (2*1 + 2*3)/16 = 0.5; kappa 0.5
    for alice_value, bob_value in [(timeout, timeout), (timeout, crash), (crash, crash), (crash, crash)]:
        incident = make_incident()
        save_annotation(incident, category, alice, [alice_value])
        save_annotation(incident, category, bob, [bob_value])
    [result] = list_pair_agreement(category)
    assert (result.annotators, result.items, result.observed, result.kappa) == (("alice", "bob"), 4, 0.75, 0.5)
    assert result.values == ["timeout", "crash"]
    assert result.confusion == [[1, 1], [0, 2]]


def test_multi_valued_answers_agree_only_on_the_same_set(taxonomy, make_incident, alice, bob):
    hotfix, rollback = _option(taxonomy, "hotfix"), _option(taxonomy, "rollback")
    incident = make_incident()
    save_annotation(incident, hotfix.dimension, alice, [rollback, hotfix])
    save_annotation(incident, hotfix.dimension, bob, [hotfix])
    assert annotation_pairs(hotfix.dimension) == {("alice", "bob"): [("hotfix+rollback", "hotfix")]}


def _hand_kappa(path, dimension):
    """Cohen's kappa of analyst_a and analyst_b, straight from the file, by the textbook formula."""
    values = defaultdict(dict)
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if row["dimension"] == dimension and not row.get("adjudication"):
            values[(row["source"], row["incident"])][row["annotator"]] = row["value"]
    pairs = [(by["analyst_a"], by["analyst_b"]) for by in values.values() if {"analyst_a", "analyst_b"} <= set(by)]
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    rates_a, rates_b = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    expected = sum(rates_a[value] * rates_b[value] for value in set(rates_a) | set(rates_b)) / (n * n)
    return n, observed, (observed - expected) / (1 - expected)


@needs_data
@pytest.mark.parametrize("dimension", ["category", "symptom"])
def test_agreement_of_the_two_analysts_matches_a_hand_computation(db, dimension):
    load_status_page_data()
    items, observed, kappa = _hand_kappa(DATA_DIR / "dev_labels.jsonl", dimension)
    # when
    figures = {
        report.dimension.key: report
        for report in list_taxonomy_agreement(Taxonomy.objects.get(key="llm-status", active=True))
    }
    # then: one pair (the adjudicator's rulings are not ratings), the hand figures exactly
    assert (figures[dimension].items, figures[dimension].annotators) == (150, 2)
    [result] = figures[dimension].pairs
    assert result.annotators == ("analyst_a", "analyst_b")
    assert result.items == items == 150
    assert result.observed == pytest.approx(observed, abs=1e-12)
    assert result.kappa == pytest.approx(kappa, abs=1e-12)
    assert sum(map(sum, result.confusion)) == 150
    assert sum(result.confusion[i][i] for i in range(len(result.values))) == round(observed * 150)
