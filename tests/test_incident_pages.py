"""The incidents list and detail pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from labeling.models import Decision, Option


def test_outsider_without_role_is_refused(login, charlie, make_incident):
    incident = make_incident()
    client = login(charlie)
    assert client.get(reverse("incidents:list")).status_code == 403
    assert client.get(incident.get_absolute_url()).status_code == 403


@pytest.mark.parametrize("actor", ["alice", "olga", "maria", "adam"])
def test_every_role_reads_the_list(request, login, make_incident, actor):
    make_incident(title="KV cache exhaustion on llama-70b")
    response = login(request.getfixturevalue(actor)).get(reverse("incidents:list"))
    assert response.status_code == 200
    assert b"KV cache exhaustion on llama-70b" in response.content


def test_list_filters_by_service_severity_status_and_dates(login, olga, make_incident):
    now = timezone.now()
    make_incident(title="Old chat outage", service="chat-api", severity=1, started_at=now - timedelta(days=40))
    make_incident(title="Recent chat outage", service="chat-api", severity=1, started_at=now - timedelta(days=1))
    make_incident(title="Embeddings slow", service="embeddings-api", severity=3, status="monitoring")
    client = login(olga)

    def titles(**params):
        response = client.get(reverse("incidents:list"), params)
        return sorted(incident.title for incident in response.context["page"])

    assert titles(service="chat-api") == ["Old chat outage", "Recent chat outage"]
    assert titles(severity=[3]) == ["Embeddings slow"]
    assert titles(status="monitoring") == ["Embeddings slow"]
    assert titles(started_after=(now - timedelta(days=10)).date().isoformat(), service="chat-api") == [
        "Recent chat outage"
    ]
    assert titles(started_before=(now - timedelta(days=30)).date().isoformat()) == ["Old chat outage"]


def test_list_text_search_covers_the_timeline(login, olga, make_incident):
    make_incident(title="Degraded completions", updates=[("identified", 10, "A bad NCCL version was rolled out")])
    make_incident(title="Login page broken")
    response = login(olga).get(reverse("incidents:list"), {"q": "nccl"})
    assert [incident.title for incident in response.context["page"]] == ["Degraded completions"]


def test_list_is_paginated_with_a_fixed_number_of_queries(login, olga, make_incident, django_assert_max_num_queries):
    for _ in range(55):
        make_incident()
    client = login(olga)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("incidents:list"))
    assert len(response.context["page"]) == 50
    assert response.context["page"].paginator.num_pages == 2


def test_detail_shows_fields_timeline_and_sanitized_postmortem(login, olga, make_incident):
    incident = make_incident(
        postmortem="## Root cause\n\n**GPU** memory ran out.<script>alert(1)</script>[x](javascript:alert(2))",
        updates=[("investigating", 5, "We are looking into elevated errors."), ("resolved", 90, "All clear.")],
    )
    response = login(olga).get(incident.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>GPU</strong>" in html
    assert "<script>alert(1)</script>" not in html
    assert "javascript:alert" not in html
    assert "We are looking into elevated errors." in html
    assert "40 min" in html  # time to mitigate


def test_labels_panel_shows_the_decision(login, olga, make_incident, taxonomy):
    incident = make_incident()
    timeout = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    Decision.objects.create(incident=incident, dimension=timeout.dimension, option=timeout, decided_at=timezone.now())
    response = login(olga).get(reverse("labeling:incident-labels", args=[incident.pk]))
    assert response.status_code == 200
    assert "Inference engine › Timeout" in response.content.decode()
