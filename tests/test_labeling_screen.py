"""The labeling screen, the queue, blind double labeling and adjudication, over HTTP."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from labeling.actions import save_annotation
from labeling.choices import AnnotationSource
from labeling.models import Annotation, Decision, Dimension, Option, Suggestion, Taxonomy
from labeling.queue import labeling_queue
from tests.conftest import _user


@pytest.fixture
def screen_url(taxonomy):
    return reverse("labeling:screen", args=[taxonomy.key])


def _option(taxonomy, key):
    return Option.objects.select_related("dimension__taxonomy").get(dimension__taxonomy=taxonomy, key=key)


def _decisions(incident):
    return sorted(Decision.objects.filter(incident=incident).values_list("dimension__key", "option__key"))


@pytest.mark.parametrize(
    ("actor", "status"), [("alice", 200), ("adam", 200), ("olga", 403), ("maria", 403), ("charlie", 403)]
)
def test_who_may_label(request, login, make_incident, screen_url, actor, status):
    make_incident()
    assert login(request.getfixturevalue(actor)).get(screen_url).status_code == status


def test_anonymous_is_sent_to_login(client, screen_url):
    assert client.get(screen_url).status_code == 302


def test_the_screen_shows_the_next_incident_with_its_suggestion_and_evidence(
    login, alice, make_incident, taxonomy, screen_url, django_assert_max_num_queries
):
    evidence = make_incident(title="Earlier KV cache exhaustion")
    incident = make_incident(title="Requests hang on the 70B model")
    timeout = _option(taxonomy, "timeout")
    save_annotation(evidence, timeout.dimension, alice, [timeout])
    Suggestion.objects.create(
        incident=incident, dimension=timeout.dimension, option=timeout, score=0.83, model_version="knn-v1",
        evidence=[{"incident": evidence.pk, "similarity": 0.91}],
    )  # fmt: skip
    client = login(alice)
    with django_assert_max_num_queries(30):
        response = client.get(screen_url)
    html = response.content.decode()
    assert response.context["incident"] == incident
    assert 'data-suggested="timeout"' in html
    assert "0.83" in html
    assert "Earlier KV cache exhaustion" in html


def test_saving_labels_decides_and_moves_to_the_next_incident(login, alice, make_incident, taxonomy, screen_url):
    first, second = make_incident(), make_incident()
    client = login(alice)
    response = client.get(screen_url, {"order": "oldest"})
    assert response.context["incident"] == first
    # when
    values = {"category": "timeout", "detection": "automated", "mitigation": ["hotfix", "rollback"]}
    saved = client.post(
        reverse("labeling:save", args=[taxonomy.key, first.pk]), {**values, "next": response.context["next_url"]}
    )
    # then
    assert _decisions(first) == [
        ("category", "timeout"), ("detection", "automated"), ("mitigation", "hotfix"), ("mitigation", "rollback"),
    ]  # fmt: skip
    assert saved.status_code == 302
    assert client.get(saved["Location"]).context["incident"] == second


def test_an_unknown_option_is_refused_and_nothing_is_stored(login, alice, make_incident, taxonomy):
    incident = make_incident()
    response = login(alice).post(reverse("labeling:save", args=[taxonomy.key, incident.pk]), {"category": "nonsense"})
    assert response.status_code == 302
    assert not Annotation.objects.exists()


def test_a_skipped_incident_leaves_the_queue_for_the_session(login, alice, make_incident, taxonomy, screen_url):
    skipped, other = make_incident(), make_incident()
    client = login(alice)
    client.post(reverse("labeling:skip", args=[taxonomy.key, skipped.pk]), {"next": screen_url})
    assert client.get(screen_url, {"order": "oldest"}).context["incident"] == other


def test_the_queue_orders_by_lowest_confidence(login, alice, make_incident, taxonomy, screen_url):
    sure, unsure = make_incident(), make_incident()
    timeout = _option(taxonomy, "timeout")
    for incident, score in ((sure, 0.95), (unsure, 0.31)):
        Suggestion.objects.create(
            incident=incident, dimension=timeout.dimension, option=timeout, score=score, model_version="v"
        )
    assert login(alice).get(screen_url).context["incident"] == unsure


def _query(url):
    return parse_qs(urlsplit(url).query)


def _suggest(incident, option, score):
    Suggestion.objects.create(
        incident=incident, dimension=option.dimension, option=option, score=score, model_version="knn-v1"
    )


@pytest.mark.parametrize("order", ["oldest", "confidence"])
def test_next_goes_on_through_the_queue_instead_of_back_to_its_head(login, alice, make_incident, taxonomy, order):
    made = [make_incident(started_at=timezone.now() - timedelta(hours=hours)) for hours in (3, 2, 1)]
    timeout = _option(taxonomy, "timeout")
    for incident, score in zip(made, (0.1, 0.2, 0.3), strict=True):
        _suggest(incident, timeout, score)
    client = login(alice)
    seen = [client.get(reverse("labeling:screen", args=[taxonomy.key]), {"order": order})]
    for _ in made[1:]:
        seen.append(client.get(seen[-1].context["next_url"]))
    # then j, j walks the whole queue in its order, and the last page's next wraps to the head
    assert [page.context["incident"] for page in seen] == made
    assert "incident" not in _query(seen[-1].context["next_url"])


def test_filters_survive_a_refused_save(login, alice, make_incident, taxonomy, screen_url):
    incident = make_incident(service="chat-api")
    make_incident(service="image-gen")
    client = login(alice)
    page = client.get(screen_url, {"order": "oldest", "service": "chat-api"})
    # when the analyst saves with nothing chosen
    response = client.post(
        reverse("labeling:save", args=[taxonomy.key, incident.pk]),
        {"next": page.context["next_url"], "here": page.context["here_url"]},
    )
    # then the same incident comes back, in the same filtered queue
    assert _query(response["Location"]) == {
        "order": ["oldest"], "service": ["chat-api"], "incident": [str(incident.pk)]
    }  # fmt: skip


def test_a_bad_filter_is_reported_and_the_others_still_apply(login, alice, make_incident, screen_url):
    make_incident(service="image-gen")
    chat = make_incident(service="chat-api")
    page = login(alice).get(screen_url, {"service": "chat-api", "started_after": "2024-02-30"})
    assert page.context["incident"] == chat
    assert "From: Enter a valid date. (not applied)" in page.content.decode()


def test_a_skip_hides_the_incident_in_its_taxonomy_only_until_brought_back(login, alice, make_incident, taxonomy):
    other = Taxonomy.objects.create(key="other", name="Other")
    Option.objects.create(
        dimension=Dimension.objects.create(taxonomy=other, key="kind", name="Kind"), key="x", name="X"
    )
    incident = make_incident()
    mine = reverse("labeling:screen", args=[taxonomy.key])
    client = login(alice)
    client.post(reverse("labeling:skip", args=[taxonomy.key, incident.pk]), {"next": mine})
    # then it is gone from this taxonomy's queue only
    empty = client.get(mine)
    assert "incident" not in empty.context
    assert "You skipped 1 incident of this taxonomy" in empty.content.decode()
    assert client.get(reverse("labeling:screen", args=[other.key])).context["incident"] == incident
    # and bringing the skipped back puts it in the queue again
    client.post(reverse("labeling:unskip", args=[taxonomy.key]))
    assert client.get(mine).context["incident"] == incident


def test_a_dimension_waiting_for_its_second_blind_label_stays_in_a_queue(login, alice, bob, make_incident, taxonomy):
    taxonomy.double_label_share = 1.0
    taxonomy.save()
    incident = make_incident()
    timeout, automated = _option(taxonomy, "timeout"), _option(taxonomy, "automated")
    # when alice labels only the category, and bob, blind, only the detection
    save_annotation(incident, timeout.dimension, alice, [timeout])
    save_annotation(incident, automated.dimension, bob, [automated])
    # then each is offered it again for the dimension the other one labeled, and so is a third analyst
    assert login(alice).get(reverse("labeling:screen", args=[taxonomy.key])).context["incident"] == incident
    assert login(bob).get(reverse("labeling:screen", args=[taxonomy.key])).context["incident"] == incident
    carol = _user("carol", Role.ANALYST)
    assert login(carol).get(reverse("labeling:screen", args=[taxonomy.key])).context["incident"] == incident


def test_least_confident_first_goes_by_the_least_sure_undecided_dimension(login, alice, bob, make_incident, taxonomy):
    unsure_on_detection, middling, detection_left = make_incident(), make_incident(), make_incident()
    timeout, automated = _option(taxonomy, "timeout"), _option(taxonomy, "automated")
    for incident, category_score, detection_score in (
        (unsure_on_detection, 0.9, 0.05), (middling, 0.5, 0.6), (detection_left, 0.01, 0.7)
    ):  # fmt: skip
        _suggest(incident, timeout, category_score)
        _suggest(incident, automated, detection_score)
    # bob decides the category of the last one: its 0.01 no longer counts
    save_annotation(detection_left, timeout.dimension, bob, [timeout])
    queue = labeling_queue(taxonomy, alice)
    assert list(queue) == [unsure_on_detection, middling, detection_left]


def test_double_labeling_is_blind_until_both_are_in(login, alice, bob, make_incident, taxonomy, screen_url):
    taxonomy.double_label_share = 1.0
    taxonomy.save()
    incident = make_incident()
    automated, manual = _option(taxonomy, "automated"), _option(taxonomy, "customer_reported")
    save_annotation(incident, automated.dimension, alice, [automated])
    bob_client = login(bob)
    # bob gets the incident and cannot see alice's value
    assert bob_client.get(screen_url).context["incident"] == incident
    panel = bob_client.get(reverse("labeling:incident-labels", args=[incident.pk])).content.decode()
    assert "alice" not in panel
    # when bob labels differently
    save_annotation(incident, manual.dimension, bob, [manual])
    # then both values show, and nothing is decided
    panel = bob_client.get(reverse("labeling:incident-labels", args=[incident.pk])).content.decode()
    assert "alice" in panel
    assert "bob" in panel
    assert _decisions(incident) == []


def test_a_model_made_annotation_does_not_count_as_the_second_blind_annotator(
    login, alice, bob, make_incident, taxonomy
):
    taxonomy.double_label_share = 1.0
    taxonomy.save()
    incident = make_incident()
    crash = _option(taxonomy, "crash")
    save_annotation(incident, crash.dimension, alice, [crash])
    model_made = Annotation.objects.create(incident=incident, dimension=crash.dimension, source=AnnotationSource.MODEL)
    model_made.options.set([crash])
    assert "alice" not in login(bob).get(reverse("labeling:incident-labels", args=[incident.pk])).content.decode()


def test_disagreements_go_to_adjudication(login, alice, bob, adam, make_incident, taxonomy):
    incident = make_incident()
    timeout, crash = _option(taxonomy, "timeout"), _option(taxonomy, "crash")
    save_annotation(incident, timeout.dimension, alice, [timeout])
    save_annotation(incident, timeout.dimension, bob, [crash])
    url = reverse("labeling:adjudication", args=[taxonomy.key])
    assert login(alice).get(url).status_code == 403
    page = login(adam).get(url)
    assert [entry["incident"] for entry in page.context["entries"]] == [incident]
    # when
    login(adam).post(reverse("labeling:adjudicate", args=[taxonomy.key, incident.pk]), {"category": "crash"})
    # then
    assert _decisions(incident) == [("category", "crash")]
    assert login(adam).get(url).context["entries"] == []


def test_a_chosen_analyst_may_adjudicate(login, alice, make_incident, taxonomy):
    taxonomy.adjudicators.add(alice)
    assert login(alice).get(reverse("labeling:adjudication", args=[taxonomy.key])).status_code == 200


def test_a_ruling_outside_the_adjudication_queue_is_refused_and_keeps_the_label_blind(
    login, alice, bob, make_incident, taxonomy
):
    taxonomy.double_label_share = 1.0
    taxonomy.save()
    taxonomy.adjudicators.add(bob)
    incident = make_incident(title="Streaming stalls")
    crash = _option(taxonomy, "crash")
    save_annotation(incident, crash.dimension, alice, [crash])
    client = login(bob)
    # when bob, an adjudicator, rules on an incident still waiting for its blind second label
    response = client.post(
        reverse("labeling:adjudicate", args=[taxonomy.key, incident.pk]), {"category": "timeout"}, follow=True
    )
    # then nothing is decided or saved, he is told why, and alice's value stays hidden from him
    assert "has no disagreement to settle on Failure category; nothing saved" in response.content.decode()
    assert _decisions(incident) == []
    assert not Annotation.objects.filter(incident=incident, is_adjudication=True).exists()
    assert "alice" not in client.get(reverse("labeling:incident-labels", args=[incident.pk])).content.decode()


def test_evidence_whose_decision_was_withdrawn_is_not_shown(login, alice, bob, make_incident, taxonomy, screen_url):
    earlier = make_incident(title="Earlier KV cache exhaustion")
    incident = make_incident(title="Requests hang on the 70B model")
    crash = _option(taxonomy, "crash")
    save_annotation(earlier, crash.dimension, alice, [crash])
    Suggestion.objects.create(
        incident=incident, dimension=crash.dimension, option=crash, score=0.6, model_version="knn-v1",
        evidence=[{"incident": earlier.pk, "similarity": 0.9}],
    )  # fmt: skip
    client = login(bob)
    assert "Earlier KV cache exhaustion" in client.get(screen_url, {"incident": incident.pk}).content.decode()
    # when the taxonomy turns to double labeling and alice saves again, her label waits for a second one
    taxonomy.double_label_share = 1.0
    taxonomy.save()
    save_annotation(earlier, _option(taxonomy, "crash").dimension, alice, [crash])
    assert not Decision.objects.filter(incident=earlier).exists()
    # then the stored suggestion no longer cites it to bob
    html = client.get(screen_url, {"incident": incident.pk}).content.decode()
    assert 'data-suggested="crash"' in html
    assert "Earlier KV cache exhaustion" not in html


def test_the_incident_page_shows_the_label_history(login, alice, olga, make_incident, taxonomy):
    incident = make_incident()
    timeout, crash = _option(taxonomy, "timeout"), _option(taxonomy, "crash")
    save_annotation(incident, timeout.dimension, alice, [timeout])
    save_annotation(incident, timeout.dimension, alice, [crash])
    panel = login(olga).get(reverse("labeling:incident-labels", args=[incident.pk])).content.decode()
    assert "<del>Timeout</del> → Crash" in panel


def test_bulk_apply_previews_then_labels_only_the_ticked_similar_incidents(login, alice, make_incident, taxonomy):
    from labeling.actions import embed_incidents

    source = make_incident(title="KV cache full on llama-70b", postmortem="GPU memory for the KV cache ran out.")
    near = make_incident(title="KV cache exhausted on llama-70b again", postmortem="The KV cache filled GPU memory.")
    also_near = make_incident(title="llama-70b KV cache out of memory", postmortem="KV cache memory exhausted.")
    decided = make_incident(title="KV cache full on llama-70b, decided", postmortem="KV cache memory ran out.")
    timeout = _option(taxonomy, "resource_exhaustion")
    save_annotation(decided, timeout.dimension, alice, [timeout])
    embed_incidents([source.pk, near.pk, also_near.pk, decided.pk])
    url = reverse("labeling:bulk-apply", args=[taxonomy.key, source.pk])
    client = login(alice)
    params = {"dimension": "category", "option": "resource_exhaustion", "count": 3}
    # when previewing
    preview = client.get(url, params)
    # then the decided incident is not offered
    offered = [result.incident for result in preview.context["candidates"]]
    assert decided not in offered
    assert {near, also_near} <= set(offered)
    # when applying to one of them
    client.post(url, {**params, "incidents": [near.pk]})
    assert _decisions(near) == [("category", "resource_exhaustion")]
    assert _decisions(also_near) == []


def test_bulk_apply_leaves_out_incidents_waiting_on_the_analysts_own_blind_label(login, alice, make_incident, taxonomy):
    from labeling.actions import embed_incidents

    taxonomy.double_label_share = 1.0
    taxonomy.save()
    source = make_incident(title="KV cache full on llama-70b", postmortem="GPU memory for the KV cache ran out.")
    mine = make_incident(title="KV cache exhausted on llama-70b again", postmortem="The KV cache filled GPU memory.")
    other = make_incident(title="llama-70b KV cache out of memory", postmortem="KV cache memory exhausted.")
    crash = _option(taxonomy, "crash")
    save_annotation(mine, crash.dimension, alice, [crash])  # undecided: it waits for a second analyst
    embed_incidents([source.pk, mine.pk, other.pk])
    url = reverse("labeling:bulk-apply", args=[taxonomy.key, source.pk])
    preview = login(alice).get(url, {"dimension": "category", "option": "resource_exhaustion", "count": 3})
    # then her own pending value is not offered for silent replacement
    assert [result.incident for result in preview.context["candidates"]] == [other]
