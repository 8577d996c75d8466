"""The agreement page: Fleiss' kappa of everyone, and every analyst pair's figures."""

import pytest
from django.urls import reverse

from accounts.roles import Role
from labeling.actions import save_annotation
from labeling.models import Option
from tests.conftest import _user


def _option(taxonomy, key):
    return Option.objects.select_related("dimension").get(dimension__taxonomy=taxonomy, key=key)


@pytest.fixture
def three_analysts(taxonomy, make_incident, alice, bob):
    """Alice, Bob and Carol label the categories of three incidents."""
    carol = _user("carol", Role.ANALYST)
    labels = {
        alice: ["timeout", "timeout", "crash"],
        bob: ["timeout", "crash", "crash"],
        carol: ["timeout", "timeout", "timeout"],
    }
    incidents = [make_incident() for _ in range(3)]
    for analyst, keys in labels.items():
        for incident, key in zip(incidents, keys, strict=True):
            option = _option(taxonomy, key)
            save_annotation(incident, option.dimension, analyst, [option])
    return labels


def test_every_pair_of_analysts_has_its_figures_and_everyone_a_fleiss_kappa(login, maria, taxonomy, three_analysts):
    # when a manager opens the agreement page
    response = login(maria).get(reverse("labeling:agreement", args=[taxonomy.key]))
    # then the category has all three pairs, each with its own hand-checkable kappa
    category = next(report for report in response.context["reports"] if report.dimension.key == "category")
    assert (category.items, category.annotators) == (3, 3)
    # Fleiss by hand: agreeing rater pairs 1, 1/3, 1/3 -> 5/9; pooled rates 6/9, 3/9 -> 5/9; kappa 0
    assert category.fleiss == pytest.approx(0.0)
    by_pair = {pair.annotators: pair for pair in category.pairs}
    assert set(by_pair) == {("alice", "bob"), ("alice", "carol"), ("bob", "carol")}
    # alice T T C, bob T C C: observed 2/3, expected (2*1 + 1*2)/9 = 4/9 -> kappa 0.4
    assert by_pair[("alice", "bob")].kappa == pytest.approx(0.4)
    assert by_pair[("bob", "carol")].observed == pytest.approx(1 / 3)
    # and the confusion matrix is shown with option names
    html = response.content.decode()
    assert "rows: alice · columns: bob" in html
    assert '<th scope="row">Timeout</th>' in html


def test_a_dimension_without_double_labels_says_how_to_get_them(login, alice, taxonomy):
    html = login(alice).get(reverse("labeling:agreement", args=[taxonomy.key])).content.decode()
    assert "No incident has labels from two analysts yet" in html


def test_on_call_engineers_do_not_see_agreement(login, olga, taxonomy):
    assert login(olga).get(reverse("labeling:agreement", args=[taxonomy.key])).status_code == 403
