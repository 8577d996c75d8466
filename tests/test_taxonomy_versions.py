"""Taxonomies as data: versions for changed options, labels carried over, import and export."""

import json
from io import StringIO

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from labeling.actions import Change, LabelError, create_version, import_taxonomy, save_annotation
from labeling.models import Decision, Option, OptionMapping, Taxonomy
from labeling.taxonomy_file import parse_taxonomy


def _option(taxonomy, key):
    return Option.objects.select_related("dimension__taxonomy").get(dimension__taxonomy=taxonomy, key=key)


@pytest.fixture
def labeled(taxonomy, make_incident, alice):
    """Two incidents: one decided `crash`, one `latency_spike`, with mitigation hotfix."""
    incidents = []
    for key in ("crash", "latency_spike"):
        incident = make_incident()
        option = _option(taxonomy, key)
        save_annotation(incident, option.dimension, alice, [option])
        hotfix = _option(taxonomy, "hotfix")
        save_annotation(incident, hotfix.dimension, alice, [hotfix])
        incidents.append(incident)
    return incidents


def _decided(incident, taxonomy):
    return sorted(
        Decision.objects.filter(incident=incident, dimension__taxonomy=taxonomy).values_list(
            "dimension__key", "option__key"
        )
    )


def test_a_rename_makes_a_new_version_and_carries_labels_over(taxonomy, labeled):
    new = create_version(taxonomy, Change.RENAME, "category", "crash", new_key="engine_crash", new_name="Engine crash")
    taxonomy.refresh_from_db()
    assert (taxonomy.active, new.active, new.version) == (False, True, 2)
    assert _decided(labeled[0], new) == [("category", "engine_crash"), ("mitigation", "hotfix")]
    # the old labels stay readable under the old version
    assert _decided(labeled[0], taxonomy) == [("category", "crash"), ("mitigation", "hotfix")]
    assert OptionMapping.objects.get(source=_option(taxonomy, "crash")).target.key == "engine_crash"


def test_a_merge_moves_the_labels_to_the_kept_option(taxonomy, labeled):
    new = create_version(taxonomy, Change.MERGE, "category", "latency_spike", into_key="crash")
    assert _decided(labeled[1], new) == [("category", "crash"), ("mitigation", "hotfix")]
    assert not Option.objects.filter(dimension__taxonomy=new, key="latency_spike").exists()


def test_a_split_keeps_the_labels_on_the_first_part_for_review(taxonomy, labeled):
    parts = [("oom_crash", "OOM crash", "Killed for memory."), ("segfault", "Segfault", "A native crash.")]
    new = create_version(taxonomy, Change.SPLIT, "category", "crash", parts=parts)
    assert _decided(labeled[0], new)[0] == ("category", "oom_crash")
    assert Option.objects.get(dimension__taxonomy=new, key="segfault").parent.key == "inference_engine"
    assert OptionMapping.objects.get(source=_option(taxonomy, "crash")).needs_review is True


def test_retiring_an_option_drops_its_labels_from_the_new_version(taxonomy, labeled):
    new = create_version(taxonomy, Change.RETIRE, "category", "crash")
    assert _decided(labeled[0], new) == [("mitigation", "hotfix")]
    assert _decided(labeled[1], new) == [("category", "latency_spike"), ("mitigation", "hotfix")]


def test_only_the_active_version_changes(taxonomy, labeled):
    create_version(taxonomy, Change.RETIRE, "category", "crash")
    with pytest.raises(LabelError, match="not the active version"):
        create_version(taxonomy, Change.RETIRE, "category", "timeout")
    with pytest.raises(LabelError, match="no option 'nope'"):
        create_version(Taxonomy.objects.get(key=taxonomy.key, active=True), Change.RETIRE, "category", "nope")


def test_export_then_import_gives_the_same_taxonomy(taxonomy, tmp_path):
    out = StringIO()
    call_command("export_taxonomy", taxonomy.key, stdout=out)
    exported = json.loads(out.getvalue())
    assert [dimension["key"] for dimension in exported["dimensions"]] == ["category", "detection", "mitigation"]
    assert exported["dimensions"][0]["options"][0]["children"][0]["key"] == "timeout"
    path = tmp_path / "taxonomy.json"
    exported["key"] = "copy"
    path.write_text(json.dumps(exported))
    call_command("import_taxonomy", str(path), stdout=StringIO())
    assert (
        Option.objects.filter(dimension__taxonomy__key="copy").count()
        == Option.objects.filter(dimension__taxonomy=taxonomy).count()
    )


def test_taxonomy_pages_are_for_admins(login, adam, alice, taxonomy):
    url = reverse("labeling:taxonomy", args=[taxonomy.key])
    assert login(alice).get(url).status_code == 403
    assert login(adam).get(url).status_code == 200


def test_admin_renames_an_option_in_the_ui(login, adam, taxonomy, labeled):
    response = login(adam).post(
        reverse("labeling:taxonomy-change", args=[taxonomy.key]),
        {"option": "category/crash", "change": "rename", "new_name": "Engine crash"},
    )
    assert response.status_code == 302
    assert Option.objects.get(dimension__taxonomy__active=True, key="crash").name == "Engine crash"


def test_admin_imports_a_taxonomy_file_and_bad_files_say_why(login, adam, db):
    client = login(adam)
    url = reverse("labeling:taxonomy-upload")
    bad = SimpleUploadedFile("t.json", b'{"key": "x", "name": "X", "dimensions": [{"key": "d", "name": "D"}]}')
    response = client.post(url, {"file": bad})
    assert "dimensions[0]: &#x27;options&#x27; must be a non-empty list" in response.content.decode()
    good = {"key": "x", "name": "X", "dimensions": [{"key": "d", "name": "D", "options": [{"key": "a", "name": "A"}]}]}
    response = client.post(url, {"file": SimpleUploadedFile("t.json", json.dumps(good).encode())})
    assert response.status_code == 302
    assert Taxonomy.objects.filter(key="x", active=True).exists()


def _post_change(client, taxonomy, data):
    """Post an option change; return the messages it left for the taxonomy page."""
    response = client.post(reverse("labeling:taxonomy-change", args=[taxonomy.key]), data)
    assert response.status_code == 302
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def deep(db):
    """A taxonomy three levels deep: a > b > c, and z beside a."""
    options = [
        {"key": "a", "name": "A", "children": [{"key": "b", "name": "B", "children": [{"key": "c", "name": "C"}]}]},
        {"key": "z", "name": "Z"},
    ]
    return import_taxonomy(
        parse_taxonomy({"key": "deep", "name": "Deep", "dimensions": [{"key": "d", "name": "D", "options": options}]})
    )


NOT_A_KEY = "is not a key (lower-case letters, digits, '_' or '-')"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"change": "rename", "new_key": "timeout"}, "category already has an option 'timeout'"),
        ({"change": "split", "parts": "oom | OOM\ntimeout | Timeout"}, "category already has an option 'timeout'"),
        ({"change": "split", "parts": "oom | OOM\noom | OOM again"}, "the key 'oom' is given twice"),
        # the importer's key rule, so a key made here survives export and re-import
        ({"change": "rename", "new_key": "Engine_Crash"}, f"New key (rename): 'Engine_Crash' {NOT_A_KEY}"),
        ({"change": "rename", "new_key": "_crash"}, f"New key (rename): '_crash' {NOT_A_KEY}"),
        (
            {"change": "split", "parts": "Out Of Memory! | OOM\nok | OK"},
            f"Split into: Line 1: 'Out Of Memory!' {NOT_A_KEY}",
        ),
    ],
)
def test_keys_that_are_taken_or_not_keys_are_refused(login, adam, taxonomy, data, message):
    # when
    shown = _post_change(login(adam), taxonomy, {"option": "category/crash", **data})
    # then the admin is told why, and no version was made
    assert shown == [message]
    assert list(Taxonomy.objects.filter(key=taxonomy.key).values_list("version", "active")) == [(1, True)]


def test_an_option_cannot_merge_into_its_own_sub_option(login, adam, taxonomy, deep):
    shown = _post_change(
        login(adam), taxonomy, {"option": "category/inference_engine", "change": "merge", "into": "timeout"}
    )
    assert shown == ["'timeout' is under 'inference_engine': an option cannot merge into its own sub-option"]
    assert Taxonomy.objects.filter(key=taxonomy.key).count() == 1
    with pytest.raises(LabelError, match="'c' is under 'a'"):
        create_version(deep, Change.MERGE, "d", "a", into_key="c")
    assert Taxonomy.objects.filter(key=deep.key).count() == 1


def test_retiring_an_option_retires_everything_under_it(deep, make_incident, alice):
    incident = make_incident()
    c = _option(deep, "c")
    save_annotation(incident, c.dimension, alice, [c])
    # when
    new = create_version(deep, Change.RETIRE, "d", "a")
    # then
    assert list(Option.objects.filter(dimension__taxonomy=new).values_list("key", flat=True)) == ["z"]
    mappings = OptionMapping.objects.filter(source__dimension__taxonomy=deep).order_by("source__key")
    assert [(m.source.key, m.target_id, m.change) for m in mappings] == [
        ("a", None, "retire"),
        ("b", None, "retire"),
        ("c", None, "retire"),
        ("z", _option(new, "z").pk, "same"),
    ]
    assert _decided(incident, new) == []


@pytest.mark.parametrize(
    ("change", "ruling", "decided"),
    [
        # alice says crash, bob says timeout: undecided until crash goes
        ({"change": Change.MERGE, "into_key": "timeout"}, None, [("timeout", "agreement")]),
        ({"change": Change.RETIRE}, None, [("timeout", "single")]),
        # an adjudication still rules
        ({"change": Change.MERGE, "into_key": "timeout"}, "crash", [("timeout", "adjudication")]),
        ({"change": Change.MERGE, "into_key": "latency_spike"}, "timeout", [("timeout", "adjudication")]),
    ],
)
def test_decisions_follow_the_carried_over_annotations(
    taxonomy, make_incident, alice, bob, adam, change, ruling, decided
):
    # given
    incident = make_incident()
    crash, timeout = _option(taxonomy, "crash"), _option(taxonomy, "timeout")
    save_annotation(incident, crash.dimension, alice, [crash])
    save_annotation(incident, crash.dimension, bob, [timeout])
    if ruling:
        save_annotation(incident, crash.dimension, adam, [_option(taxonomy, ruling)], adjudication=True)
    # when
    new = create_version(taxonomy, change.pop("change"), "category", "crash", **change)
    # then
    rows = Decision.objects.filter(incident=incident, dimension__taxonomy=new, dimension__key="category")
    assert [(row.option.key, row.method) for row in rows] == decided
