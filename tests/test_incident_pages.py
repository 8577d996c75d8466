"""The incidents list and detail pages."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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


def test_list_form_shows_the_source_model_and_modality_filters_so_submitting_keeps_them(login, olga, make_incident):
    # given the list reached from an import's "See the incidents" link, narrowed further
    make_incident(title="Kept", source="openai", model_name="gpt-4", modality="text")
    make_incident(title="Other source", source="anthropic", model_name="gpt-4", modality="text")
    response = login(olga).get(
        reverse("incidents:list"), {"source": "openai", "model_name": "gpt-4", "modality": "text"}
    )
    # then the form carries every filter, so changing a severity does not drop one
    html = response.content.decode()
    start = html.index('<form method="get"')
    form = html[start : html.index("</form>", start)]
    assert '<input type="text" name="source" value="openai" id="id_source">' in form
    assert '<input type="text" name="model_name" value="gpt-4" id="id_model_name">' in form
    assert '<option value="text" selected>Text</option>' in form
    assert [incident.title for incident in response.context["page"]] == ["Kept"]


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


def test_detail_times_are_in_the_site_time_zone_and_name_it(settings, login, olga, make_incident):
    # given a site in Berlin and an incident that started at noon UTC
    settings.TIME_ZONE = "Europe/Berlin"
    started = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)
    incident = make_incident(started_at=started, updates=[("investigating", 5, "Looking.")])
    # when
    html = login(olga).get(incident.get_absolute_url()).content.decode()
    # then the timeline and the facts both show Berlin time, labelled as such
    assert ">2024-01-10 13:05 CET</time>" in html
    assert "<dt>Started</dt><dd>2024-01-10 13:00 CET</dd>" in html
    assert "UTC" not in html


def test_labels_panel_shows_the_decision(login, olga, make_incident, taxonomy):
    incident = make_incident()
    timeout = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    Decision.objects.create(incident=incident, dimension=timeout.dimension, option=timeout, decided_at=timezone.now())
    response = login(olga).get(reverse("labeling:incident-labels", args=[incident.pk]))
    assert response.status_code == 200
    assert "Inference engine › Timeout" in response.content.decode()


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_labels_panel_queries_do_not_grow_with_third_level_options(login, olga, make_incident, taxonomy):
    # given third-level options under Timeout (in Inference engine), one decided on one incident, eight on another
    timeout = Option.objects.get(dimension__taxonomy=taxonomy, key="timeout")
    leaves = [
        Option.objects.create(dimension=timeout.dimension, key=f"leaf{i}", name=f"Leaf {i}", parent=timeout, order=i)
        for i in range(8)
    ]
    undecided, second_level, one, eight = make_incident(), make_incident(), make_incident(), make_incident()
    Decision.objects.create(
        incident=second_level, dimension=timeout.dimension, option=timeout, decided_at=timezone.now()
    )
    Decision.objects.create(incident=one, dimension=timeout.dimension, option=leaves[0], decided_at=timezone.now())
    for leaf in leaves:
        Decision.objects.create(incident=eight, dimension=timeout.dimension, option=leaf, decided_at=timezone.now())
    client = login(olga)

    def panel(incident):
        return reverse("labeling:incident-labels", args=[incident.pk])

    # then two levels cost nothing extra, and any number of deeper options one query
    assert count_queries(client, panel(second_level)) == count_queries(client, panel(undecided))
    assert (
        count_queries(client, panel(eight))
        == count_queries(client, panel(one))
        == count_queries(client, panel(undecided)) + 1
    )
    html = client.get(panel(eight)).content.decode()
    assert html.count('class="label label-inference_engine"') == 8
    assert "Timeout › Leaf 7" in html
