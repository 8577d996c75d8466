"""import_labels: annotations and decisions from a label file, bad lines, re-imports (PRODUCT.md §4)."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.roles import Role
from labeling.actions import import_labels
from labeling.choices import AnnotationSource
from labeling.label_file import LineError, decode_label_file, group_label_lines, parse_label_text
from labeling.models import Annotation, Decision
from tests.shared_data import DATA_DIR, load_status_page_data, needs_data


def _line(**overrides):
    fields = {
        "incident": "INC-1",
        "source": "test",
        "taxonomy": "llm-incidents",
        "dimension": "category",
        "value": "timeout",
        "annotator": "alice",
    }
    fields.update(overrides)
    return json.dumps({key: value for key, value in fields.items() if value is not None})


def _write(tmp_path, lines, name="labels.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _decided(incident, dimension_key):
    rows = Decision.objects.filter(incident=incident, dimension__key=dimension_key).order_by("option__key")
    return [(row.option.key, row.method) for row in rows]


def _run(path):
    out, err = _Capture(), _Capture()
    call_command("import_labels", str(path), stdout=out, stderr=err)
    return out.text, err.text


class _Capture:
    def __init__(self):
        self.text = ""

    def write(self, text, *args, **kwargs):
        self.text += text

    def flush(self):
        pass


# Pure parsing


def test_parse_reports_bad_lines_with_number_and_field():
    text = "\n".join(
        [
            _line(),
            "{not json",
            _line(value=None),
            _line(annotator=7),
            _line(adjudication="yes"),
            "[1, 2]",
            "",
            _line(source=None),
        ]
    )
    lines, errors = parse_label_text(text)
    assert [(line.line, line.source) for line in lines] == [(1, "test"), (8, "")]
    assert [(error.line, error.field) for error in errors] == [
        (2, ""),
        (3, "value"),
        (4, "annotator"),
        (5, "adjudication"),
        (6, ""),
    ]
    assert str(errors[1]) == "line 3, field value: is required"


def test_lines_of_one_annotator_form_one_value_set():
    text = "\n".join(
        [
            _line(dimension="mitigation", value="hotfix"),
            _line(dimension="mitigation", value="rollback"),
            _line(dimension="mitigation", value="hotfix", annotator="bob"),
        ]
    )
    lines, _ = parse_label_text(text)
    groups = group_label_lines(lines, incident_of=lambda line: line.incident)
    assert [(group.first.annotator, group.values) for group in groups] == [
        ("alice", ["hotfix", "rollback"]),
        ("bob", ["hotfix"]),
    ]


def test_a_line_wrong_only_in_its_value_still_names_its_value_set():
    (error,) = parse_label_text(_line(dimension="mitigation", value=["hotfix", "rollback"]))[1]
    assert str(error) == "line 1, field value: must be text, not list"
    assert (error.label.incident, error.label.dimension, error.label.annotator) == ("INC-1", "mitigation", "alice")


@pytest.mark.parametrize("content", [b"", b"  \n", b"\xff\xfe{}"])
def test_an_unreadable_file_is_refused_whole(content):
    with pytest.raises(ValueError):
        decode_label_file(content)


# The action and the command


def test_one_annotator_decides_and_users_are_created_as_analysts(tmp_path, taxonomy, make_incident):
    incident = make_incident(external_id="INC-1")
    path = _write(tmp_path, [_line(annotator="dana")])
    # when
    out, err = _run(path)
    # then
    assert err == ""
    assert "1 annotations created, 0 unchanged, 0 lines rejected, users created: dana" in out
    dana = get_user_model().objects.get(username="dana")
    assert list(dana.groups.values_list("name", flat=True)) == [Role.ANALYST]
    annotation = Annotation.objects.get()
    assert (annotation.annotator, annotation.source, annotation.is_current) == (dana, AnnotationSource.IMPORT, True)
    assert _decided(incident, "category") == [("timeout", "single")]


def test_agreement_disagreement_and_adjudication(tmp_path, taxonomy, make_incident):
    agreed, ruled, open_ = (make_incident(external_id=f"INC-{n}") for n in (1, 2, 3))
    path = _write(
        tmp_path,
        [
            _line(incident="INC-1", annotator="ann"),
            _line(incident="INC-1", annotator="ben"),
            _line(incident="INC-2", annotator="ann"),
            _line(incident="INC-2", annotator="ben", value="crash"),
            _line(incident="INC-2", annotator="judge", value="crash", adjudication=True),
            _line(incident="INC-3", annotator="ann"),
            _line(incident="INC-3", annotator="ben", value="crash"),
        ],
    )
    _run(path)
    assert _decided(agreed, "category") == [("timeout", "agreement")]
    assert _decided(ruled, "category") == [("crash", "adjudication")]
    assert _decided(open_, "category") == []
    assert Annotation.objects.filter(is_adjudication=True).count() == 1


def test_multi_valued_lines_make_one_annotation(tmp_path, taxonomy, make_incident):
    incident = make_incident(external_id="INC-1")
    path = _write(
        tmp_path, [_line(dimension="mitigation", value="hotfix"), _line(dimension="mitigation", value="rollback")]
    )
    _run(path)
    annotation = Annotation.objects.get()
    assert sorted(annotation.options.values_list("key", flat=True)) == ["hotfix", "rollback"]
    assert _decided(incident, "mitigation") == [("hotfix", "single"), ("rollback", "single")]


def test_reimporting_the_same_file_changes_nothing(tmp_path, taxonomy, make_incident):
    make_incident(external_id="INC-1")
    path = _write(tmp_path, [_line(annotator="ann"), _line(annotator="ben", value="crash")])
    _run(path)
    before = list(Annotation.objects.order_by("pk").values_list("pk", "is_current"))
    decisions = list(Decision.objects.values_list("pk", "option_id", "decided_at"))
    # when
    out, _ = _run(path)
    # then
    assert "0 annotations created, 2 unchanged" in out
    assert list(Annotation.objects.order_by("pk").values_list("pk", "is_current")) == before
    assert list(Decision.objects.values_list("pk", "option_id", "decided_at")) == decisions


def test_bad_lines_are_reported_and_good_lines_kept(tmp_path, taxonomy, make_incident):
    incident = make_incident(external_id="INC-1")
    path = _write(
        tmp_path,
        [
            _line(incident="NOPE"),
            _line(taxonomy="nope"),
            _line(dimension="nope"),
            _line(value="nope", annotator="bob"),
            "{broken",
            _line(annotator=None),
            _line(),
        ],
    )
    out, err = _run(path)
    assert err.splitlines() == [
        f"{path}: line 1, field incident: no incident 'NOPE' of source 'test'",
        f"{path}: line 2, field taxonomy: no active taxonomy 'nope'",
        f"{path}: line 3, field dimension: taxonomy 'llm-incidents' has no dimension 'nope'",
        f"{path}: line 4, field value: 'nope' is not an option of 'category'",
        f"{path}: line 5: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        f"{path}: line 6, field annotator: is required",
    ]
    assert "1 annotations created, 0 unchanged, 6 lines rejected" in out
    assert _decided(incident, "category") == [("timeout", "single")]


NUL = "contains a NUL character, which cannot be stored"
SURROGATE = "contains an unpaired surrogate '\\ud800', not Unicode text"


@pytest.mark.parametrize(
    ("field", "text", "problem"),
    [("annotator", "bo\x00b", NUL), ("incident", "INC-\ud800", SURROGATE), ("value", "time\x00out", NUL)],
)
def test_text_the_database_cannot_store_is_a_line_error(tmp_path, taxonomy, make_incident, field, text, problem):
    incident = make_incident(external_id="INC-1")
    path = _write(tmp_path, [_line(), _line(**{"annotator": "bob", field: text})])
    # when
    out, err = _run(path)
    # then
    assert err.splitlines() == [f"{path}: line 2, field {field}: {problem}"]
    assert "1 annotations created, 0 unchanged, 1 lines rejected, users created: alice." in out
    assert list(Annotation.objects.values_list("annotator__username", flat=True)) == ["alice"]
    assert _decided(incident, "category") == [("timeout", "single")]


def test_lines_with_and_without_source_make_one_value_set(tmp_path, taxonomy, make_incident):
    incident = make_incident(external_id="INC-1")
    path = _write(
        tmp_path,
        [_line(dimension="mitigation", value="hotfix"), _line(source=None, dimension="mitigation", value="rollback")],
    )
    _run(path)
    # when
    out, _ = _run(path)
    # then
    assert "0 annotations created, 1 unchanged, 0 lines rejected." in out
    annotation = Annotation.objects.get()
    assert sorted(annotation.options.values_list("key", flat=True)) == ["hotfix", "rollback"]
    assert _decided(incident, "mitigation") == [("hotfix", "single"), ("rollback", "single")]


@pytest.mark.parametrize(
    ("value", "reason"),
    [("rolback", "'rolback' is not an option of 'mitigation'"), (7, "must be text, not int"), ("", "is required")],
)
def test_a_refused_line_keeps_the_stored_value_set_whole(tmp_path, taxonomy, make_incident, value, reason):
    # given alice's stored {hotfix, rollback}
    incident = make_incident(external_id="INC-1")
    _run(_write(tmp_path, [_line(dimension="mitigation", value=key) for key in ("hotfix", "rollback")]))
    before = list(Annotation.objects.values_list("pk", flat=True))
    path = _write(
        tmp_path,
        [
            _line(dimension="mitigation", value="hotfix"),
            _line(dimension="mitigation", value=value),
            _line(annotator="bob"),
        ],
        name="retyped.jsonl",
    )
    # when
    out, err = _run(path)
    # then
    assert err.splitlines() == [
        f"{path}: line 1: not applied: its value set has refused line 2",
        f"{path}: line 2, field value: {reason}",
    ]
    assert "1 annotations created, 0 unchanged, 2 lines rejected, users created: bob." in out
    assert list(Annotation.objects.filter(annotator__username="alice").values_list("pk", flat=True)) == before
    assert _decided(incident, "mitigation") == [("hotfix", "single"), ("rollback", "single")]


@pytest.mark.parametrize(
    "refused",
    [
        [_line(annotator="zed"), _line(annotator="zed", value="crash")],
        [
            _line(annotator="zed", dimension="mitigation", value="hotfix"),
            _line(annotator="zed", dimension="mitigation", value="nope"),
        ],
    ],
)
def test_an_annotator_with_no_saved_line_is_not_created(tmp_path, taxonomy, make_incident, refused):
    make_incident(external_id="INC-1")
    path = _write(tmp_path, [_line(), *refused])
    out, _ = _run(path)
    assert out.endswith("users created: alice.\n")
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]


@pytest.mark.parametrize("username", ["ann smith", "ops/ann", "ann:1"])
def test_an_annotator_name_django_refuses_is_a_line_error(tmp_path, taxonomy, make_incident, username):
    make_incident(external_id="INC-1")
    path = _write(tmp_path, [_line(), _line(annotator=username)])
    _, err = _run(path)
    assert err.splitlines() == [
        f"{path}: line 2, field annotator: {username!r} is not a valid username: Enter a valid username. "
        "This value may contain only letters, numbers, and @/./+/-/_ characters."
    ]
    assert not get_user_model().objects.filter(username=username).exists()


def test_an_existing_user_is_taken_as_is(tmp_path, taxonomy, make_incident):
    make_incident(external_id="INC-1")
    legacy = get_user_model().objects.create(username="ann smith")
    _run(_write(tmp_path, [_line(annotator="ann smith")]))
    assert Annotation.objects.get().annotator == legacy


def test_two_values_on_a_single_valued_dimension_are_refused(taxonomy, make_incident):
    make_incident(external_id="INC-1")
    lines, _ = parse_label_text("\n".join([_line(), _line(value="crash")]))
    result = import_labels(lines)
    assert result.errors == [
        LineError(1, "value", "category takes one value, not 2"),
        LineError(2, "value", "category takes one value, not 2"),
    ]
    assert Annotation.objects.count() == 0


def test_an_incident_without_source_must_be_unambiguous(taxonomy, make_incident):
    make_incident(external_id="INC-1", source="openai")
    make_incident(external_id="INC-1", source="anthropic")
    lines, _ = parse_label_text(_line(source=None))
    result = import_labels(lines)
    assert result.errors == [LineError(1, "source", "incident 'INC-1' exists in anthropic, openai: name the source")]


def test_a_file_that_cannot_be_read_changes_nothing(tmp_path, taxonomy, make_incident):
    make_incident(external_id="INC-1")
    path = tmp_path / "labels.jsonl"
    path.write_bytes(_line().encode() + b"\n\xff\n")
    with pytest.raises(CommandError, match="invalid UTF-8"):
        _run(path)
    with pytest.raises(CommandError, match="cannot read"):
        _run(tmp_path / "missing.jsonl")
    assert Annotation.objects.count() == 0


def test_a_file_of_only_bad_lines_exits_non_zero(tmp_path, taxonomy):
    path = _write(tmp_path, [_line(incident="NOPE")])
    with pytest.raises(CommandError, match="no line could be imported"):
        _run(path)


@needs_data
def test_the_real_dev_labels_import_and_reimport(db):
    # given
    load_status_page_data(labels=False)
    path = DATA_DIR / "dev_labels.jsonl"
    # when
    out, err = _run(path)
    again, _ = _run(path)
    # then every line is kept, every labeled incident is decided on both dimensions
    assert err == ""
    assert "617 annotations created, 0 unchanged, 0 lines rejected" in out
    assert "0 annotations created, 617 unchanged" in again
    assert Decision.objects.filter(dimension__taxonomy__key="llm-status").count() == 300
    methods = Decision.objects.filter(method="adjudication").count()
    assert methods == 17


def test_a_line_nested_past_the_recursion_limit_is_a_line_error():
    from labeling.label_file import parse_label_line

    error = parse_label_line(7, "[" * 100_000 + "]" * 100_000)
    assert (error.line, error.field, error.reason) == (7, "", "not valid JSON: nested too deeply")
