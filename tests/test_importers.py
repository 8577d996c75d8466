"""incidents.importers: reading incident files into checked records (pure, no database)."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incidents import importers
from incidents.importers import ImportFileError, Record, RowError, read_records, records
from incidents.models import ImportBatch, Incident

FIXTURES = Path(__file__).parent / "fixtures"


def t(text):
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def read(content, fmt="jsonl", **options):
    """Return (records by external_id, errors as strings) of a file's content."""
    if isinstance(content, str):
        content = content.encode()
    items = list(read_records(content, fmt, **options))
    records = {item.fields["external_id"]: item for item in items if isinstance(item, Record)}
    return records, [str(item) for item in items if isinstance(item, RowError)]


def page(**incident):
    """A Statuspage file with one incident, id "a"."""
    base = {"id": "a", "name": "x", "impact": "minor", "status": "resolved", "created_at": "2024-01-01T00:00:00Z"}
    return json.dumps({"incidents": [{**base, **incident}]})


def line(**fields):
    base = {"source": "acme", "external_id": "X-1", "title": "Chat times out", "started_at": "2024-05-01T12:00:00Z"}
    return json.dumps({**base, **fields})


# The limits and formats the importer checks are the model's own.


def test_text_limits_are_the_models_column_lengths():
    for name, limit in importers.MAX_LENGTHS.items():
        assert Incident._meta.get_field(name).max_length == limit, name
    assert Incident._meta.get_field("tags").base_field.max_length == records.MAX_TAG_LENGTH


def test_formats_are_the_batch_formats():
    assert set(importers.FORMATS) == set(ImportBatch.Format.values)


# Statuspage


def test_statuspage_maps_a_full_incident():
    records, _ = read((FIXTURES / "statuspage_sample.json").read_bytes(), "statuspage")
    record = records["ex-001"]
    assert record.fields == {
        "source": "example-ai",
        "external_id": "ex-001",
        "title": "Elevated errors on the chat API",
        "summary": "We are investigating elevated error rates on the chat API.",
        "postmortem": "A bad GPU driver rollout exhausted KV cache memory.",
        "severity": 1,
        "status": "postmortem",
        "service": "Chat API, Playground",
        "model_name": "",
        "modality": "",
        "region": "",
        "endpoint": "",
        "started_at": t("2024-03-01T10:00:00"),
        "detected_at": t("2024-03-01T10:15:00"),
        "mitigated_at": t("2024-03-01T10:40:00"),
        "resolved_at": t("2024-03-01T11:30:00"),
        "tags": ["Chat API", "Playground"],
        "customer_impact": "",
    }
    assert [(update["stage"], update["posted_at"]) for update in record.updates] == [
        ("investigating", t("2024-03-01T10:00:00")),
        ("identified", t("2024-03-01T10:15:00")),
        ("monitoring", t("2024-03-01T10:40:00")),
        ("resolved", t("2024-03-01T11:30:00")),
        ("postmortem", t("2024-03-03T09:00:00")),
    ]


def test_statuspage_without_identified_or_monitoring_updates():
    # given an incident with only investigating and resolved updates and no components
    records, _ = read((FIXTURES / "statuspage_sample.json").read_bytes(), "statuspage", default_source="example")
    record = records["ex-002"]
    # then detection is unknown, mitigation falls back to resolution, severity "none" is 3
    assert record.fields["source"] == "example"
    assert record.fields["detected_at"] is None
    assert record.fields["mitigated_at"] == record.fields["resolved_at"] == t("2024-03-05T08:45:00")
    assert record.fields["severity"] == 3
    assert record.fields["service"] == ""
    assert record.fields["tags"] == []


def test_statuspage_back_dated_update_moves_the_start_and_maintenance_is_sev4():
    records, _ = read((FIXTURES / "statuspage_sample.json").read_bytes(), "statuspage")
    record = records["ex-003"]
    assert record.fields["started_at"] == t("2024-03-07T21:50:00")
    assert record.fields["severity"] == 4


def test_statuspage_rejects_resolved_before_start_and_unknown_impact_naming_the_fields():
    records, errors = read((FIXTURES / "statuspage_sample.json").read_bytes(), "statuspage")
    assert sorted(records) == ["ex-001", "ex-002", "ex-003"]
    assert errors == [
        "incidents[3], field resolved_at: 2024-03-09T11:00:00+00:00 is before started_at 2024-03-09T12:00:00+00:00",
        "incidents[4], field impact: 'severe' is not one of critical, major, minor, none, maintenance",
    ]


@pytest.mark.parametrize(
    ("impact", "severity"), [("critical", 0), ("major", 1), ("minor", 2), ("none", 3), ("maintenance", 4)]
)
def test_statuspage_impact_becomes_severity(impact, severity):
    records, _ = read(page(impact=impact), "statuspage", default_source="p")
    assert records["a"].fields["severity"] == severity


def test_statuspage_page_start_before_creation_makes_creation_the_detection():
    identified = {"status": "identified", "body": "", "created_at": "2024-01-01T10:20:00Z"}
    content = page(started_at="2024-01-01T09:30:00Z", created_at="2024-01-01T10:00:00Z", incident_updates=[identified])
    records, _ = read(content, "statuspage", default_source="p")
    assert records["a"].fields["started_at"] == t("2024-01-01T09:30:00")
    assert records["a"].fields["detected_at"] == t("2024-01-01T10:00:00")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"incidents": [', "not valid JSON: Expecting value: line 1 column 16 (char 15)"),
        ("[1, 2]", "top level: expected an object with an 'incidents' list (a Statuspage incidents JSON)"),
        ('{"incidents": []}', "page: no name to use as the source; give a source (the Source field, or --source)"),
        ('{"incidents": ' + "[" * 100_000 + "]" * 100_000 + "}", "not valid JSON: nested too deeply"),
    ],
)
def test_statuspage_file_that_cannot_be_read(content, reason):
    with pytest.raises(ImportFileError) as raised:
        read_records(content.encode(), "statuspage")
    assert str(raised.value) == reason


def test_statuspage_bad_update_names_its_index_and_field():
    updates = [
        {"status": "resolved", "body": "", "created_at": "2024-01-01T01:00:00Z"},
        {"status": "exploded", "body": "", "created_at": "2024-01-01T00:30:00Z"},
    ]
    _, errors = read(page(incident_updates=updates), "statuspage", default_source="p")
    assert errors == [
        "incidents[0], field incident_updates[1].status: 'exploded' is not one of investigating, identified, "
        "monitoring, resolved, postmortem, scheduled, in_progress, verifying, completed"
    ]


def test_statuspage_monitoring_before_identified_is_the_detection():
    # given a page that posted "monitoring" before "identified"
    updates = [
        {"status": "investigating", "body": "", "created_at": "2024-01-01T00:00:00Z"},
        {"status": "monitoring", "body": "", "created_at": "2024-01-01T00:20:00Z"},
        {"status": "identified", "body": "", "created_at": "2024-01-01T00:40:00Z"},
        {"status": "resolved", "body": "", "created_at": "2024-01-01T01:00:00Z"},
    ]
    records, _ = read(page(incident_updates=updates), "statuspage", default_source="p")
    # then the fix being monitored dates the detection too: time to detect <= time to mitigate
    assert records["a"].fields["detected_at"] == records["a"].fields["mitigated_at"] == t("2024-01-01T00:20:00")


@pytest.mark.parametrize(
    ("incident", "error"),
    [
        ({"impact": ["major"]}, "field impact: ['major'] is not one of critical, major, minor, none, maintenance"),
        ({"status": {"x": 1}}, "field status: {'x': 1} is not one of investigating, identified, monitoring, "
                               "resolved, postmortem, scheduled, in_progress, verifying, completed"),
        ({"incident_updates": [{"status": ["resolved"], "body": "", "created_at": "2024-01-01T00:10:00Z"}]},
         "field incident_updates[0].status: ['resolved'] is not one of investigating, identified, monitoring, "
         "resolved, postmortem, scheduled, in_progress, verifying, completed"),
        ({"incident_updates": [{"status": "resolved", "body": "", "created_at": "0001-01-01T00:00:00+05:00"}]},
         "field incident_updates[0].created_at: '0001-01-01T00:00:00+05:00' is out of range once converted to "
         "UTC (years 1 to 9999)"),
    ],
)  # fmt: skip
def test_statuspage_lists_objects_and_unconvertible_times_are_row_errors(incident, error):
    base = {"name": "x", "impact": "minor", "status": "resolved", "created_at": "2024-01-01T00:00:00Z"}
    incidents = [{**base, "id": "a"}, {**base, "id": "b", **incident}, {**base, "id": "c"}]
    records, errors = read(json.dumps({"incidents": incidents}), "statuspage", default_source="p")
    assert errors == [f"incidents[1], {error}"]
    assert sorted(records) == ["a", "c"]


# JSON lines


def test_jsonl_sample_reads_every_field():
    records, errors = read((FIXTURES / "incidents_sample.jsonl").read_bytes())
    assert errors == []
    assert sorted(records) == ["INC-1", "INC-2", "INC-3"]
    first = records["INC-1"]
    assert first.position == "line 1"
    assert first.fields["tags"] == ["kv-cache", "timeout"]
    assert first.fields["endpoint"] == "/v1/chat/completions"
    assert [update["stage"] for update in first.updates] == ["investigating", "resolved"]
    # offsets are converted to UTC; a naive time is read as UTC
    assert records["INC-2"].fields["started_at"] == t("2024-05-02T07:00:00")
    assert records["INC-3"].fields["started_at"] == t("2024-05-03T18:30:00")
    # severity as digits is accepted; missing status follows resolved_at
    assert records["INC-3"].fields["severity"] == 3
    assert records["INC-2"].fields["status"] == "investigating"
    assert records["INC-3"].position == "line 4"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"severity": "high"}, "field severity: 'high' is not a severity; use a whole number from 0 (highest) to 4"),
        ({"severity": 7}, "field severity: 7 is not a severity; use 0 (highest) to 4"),
        ({"severity": True}, "field severity: True is not a severity; use a whole number from 0 (highest) to 4"),
        ({"started_at": 1714564800}, "field started_at: expected an ISO 8601 date-time text, found a number"),
        ({"started_at": "yesterday"}, "field started_at: 'yesterday' is not an ISO 8601 date-time such as "
                                      "2024-05-01T12:30:00Z"),
        ({"title": ["a"]}, "field title: expected text, found a list"),
        ({"title": "   "}, "field title: is required"),
        ({"title": "x" * 501}, "field title: is 501 characters long; at most 500 are allowed"),
        ({"summary": "x" * 100_001}, "field summary: is 100,001 characters long; at most 100,000 are allowed"),
        ({"tags": "gpu"}, "field tags: expected a list of text, found text"),
        ({"tags": ["x" * 101]}, "field tags: is 101 characters long; at most 100 are allowed"),
        ({"status": "exploded"}, "field status: 'exploded' is not one of investigating, identified, monitoring, "
                                 "resolved, postmortem"),
        ({"modality": "smell"}, "field modality: 'smell' is not one of text, image, audio, embedding, multimodal"),
        ({"resolved_at": "2024-05-01T11:00:00Z"}, "field resolved_at: 2024-05-01T11:00:00+00:00 is before "
                                                  "started_at 2024-05-01T12:00:00+00:00"),
        ({"colour": "red"}, "field colour: unknown field"),
        ({"title": "nul\u0000byte"}, "field title: contains a NUL character, which cannot be stored"),
        ({"title": "lone \ud800 surrogate"}, "field title: contains an unpaired surrogate '\\ud800', not Unicode text"),
        ({"updates": [{"stage": "fixed", "posted_at": "2024-05-01T12:00:00Z"}]},
         "field updates[0].stage: 'fixed' is not one of investigating, identified, update, monitoring, resolved, "
         "postmortem"),
        ({"updates": [{"stage": "resolved"}]}, "field updates[0].posted_at: is required"),
        ({"updates": {"stage": "resolved"}}, "field updates: expected a list of updates, found an object"),
        ({"started_at": "0001-01-01T00:00:00+01:00"}, "field started_at: '0001-01-01T00:00:00+01:00' is out of "
                                                      "range once converted to UTC (years 1 to 9999)"),
        ({"resolved_at": "9999-12-31T23:30:00-01:00"}, "field resolved_at: '9999-12-31T23:30:00-01:00' is out of "
                                                       "range once converted to UTC (years 1 to 9999)"),
        ({"updates": [{"stage": "resolved", "posted_at": "0001-01-01T00:00:00+01:00"}]},
         "field updates[0].posted_at: '0001-01-01T00:00:00+01:00' is out of range once converted to UTC "
         "(years 1 to 9999)"),
        # names the database cannot store are shown escaped: the error itself is stored
        ({"\u0000": 1}, "field \\x00: unknown field"),
        ({"bad\ud800": 1}, "field bad\\ud800: unknown field"),
        ({"updates": [{"stage": "resolved", "posted_at": "2024-05-01T12:00:00Z", "\u0000": 1}]},
         "field updates[0].\\x00: unknown field"),
    ],
)  # fmt: skip
def test_jsonl_bad_values_are_rejected_naming_line_and_field(fields, error):
    records, errors = read(line(external_id="GOOD") + "\n" + line(**fields))
    assert errors == [f"line 2, {error}"]
    assert list(records) == ["GOOD"]


def test_jsonl_missing_required_fields_and_source_from_default():
    records, errors = read('{"external_id": "A", "started_at": "2024-01-01T00:00:00Z"}\n{"title": "x"}')
    assert errors == [
        "line 1, field source: is required",
        "line 1, field title: is required",
        "line 2, field source: is required",
        "line 2, field external_id: is required",
        "line 2, field started_at: is required",
    ]
    records, errors = read('{"external_id": "A", "title": "x", "started_at": "2024-01-01T00:00:00Z"}',
                           default_source="team")  # fmt: skip
    assert records["A"].fields["source"] == "team"


def test_jsonl_malformed_line_and_non_object_line():
    records, errors = read(line(external_id="A") + '\n{"title": \n[1]\n' + line(external_id="B"))
    assert sorted(records) == ["A", "B"]
    assert errors == [
        "line 2: not valid JSON: Expecting value: line 1 column 11 (char 10)",
        "line 3: expected a JSON object, found a list",
    ]


def test_jsonl_line_nested_past_the_recursion_limit_is_a_line_error():
    records, errors = read(line(external_id="A") + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + line(external_id="B"))
    assert errors == ["line 2: not valid JSON: nested too deeply"]
    assert sorted(records) == ["A", "B"]


def test_jsonl_duplicate_id_in_one_file_keeps_the_first():
    records, errors = read(line(title="first") + "\n" + line(title="second") + "\n")
    assert records["X-1"].fields["title"] == "first"
    assert errors == ["line 2, field external_id: 'X-1' of source 'acme' repeats line 1"]


def test_jsonl_line_separator_characters_inside_text_do_not_split_lines():
    records, errors = read(line(title="before\u2028after\x85end"))
    assert errors == []
    assert records["X-1"].fields["title"] == "before\u2028after\x85end"


def test_numeric_external_id_is_text():
    records, _ = read(line(external_id=12345))
    assert records["12345"].fields["external_id"] == "12345"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b'{"title": "ok"}\n{"title": "caf\xe9"}\n', "line 2, column 15: invalid UTF-8 (byte 0xe9)"),
        (b"\n \n\t\n", "the file is empty (only blank lines)"),
        (b"source,external_id,title,started_at\nacme,A,Chat times out,2024-05-01T12:00:00Z\n",
         "no line is a JSON object (jsonl holds one incident per line); is the format right?"),
        (b"[1]\n\n2\n", "no line is a JSON object (jsonl holds one incident per line); is the format right?"),
    ],
)  # fmt: skip
def test_file_level_problems_raise_before_any_record(content, reason):
    with pytest.raises(ImportFileError) as raised:
        read_records(content, "jsonl")
    assert str(raised.value) == reason


@pytest.mark.parametrize("fmt", importers.FORMATS)
def test_a_file_of_blank_lines_is_empty_in_every_format(fmt):
    with pytest.raises(ImportFileError) as raised:
        read_records(b"\r\n\n   \n", fmt, default_source="acme")
    assert str(raised.value) == "the file is empty (only blank lines)"


def test_file_over_the_size_limit_is_refused():
    with pytest.raises(ImportFileError) as raised:
        read_records(b"x" * 2_000_001, "jsonl", max_bytes=1_000_000)
    assert str(raised.value) == "the file is 2.0 MB, above the import limit of 1.0 MB (IMPORT_MAX_BYTES)"


def test_byte_order_mark_is_ignored():
    records, errors = read(b"\xef\xbb\xbf" + line().encode())
    assert errors == []
    assert list(records) == ["X-1"]


def test_rows_count_the_lines_for_progress():
    rows = read_records((FIXTURES / "incidents_partly_bad.jsonl").read_bytes(), "jsonl")
    assert rows.total == 6


# CSV


def test_csv_sample_reads_cells_as_values():
    records, errors = read((FIXTURES / "incidents_sample.csv").read_bytes(), "csv")
    assert errors == []
    first, second = records["CSV-1"], records["CSV-2"]
    assert first.fields["severity"] == 0
    assert first.fields["tags"] == ["gpu"]
    assert first.updates == [
        {"stage": "investigating", "posted_at": t("2024-06-01T08:03:00"), "body": "Nodes are down."}
    ]
    assert first.fields["detected_at"] == t("2024-06-01T08:02:00")
    # empty cells are missing values
    assert second.fields["title"] == "Rate limiter misconfigured, requests refused"
    assert second.fields["status"] == "investigating"
    assert second.fields["service"] == ""
    assert second.fields["detected_at"] is None
    assert second.position == "line 3"


def test_csv_header_without_a_required_column_refuses_the_file():
    with pytest.raises(ImportFileError) as raised:
        read_records(b"source,external_id,severity\nacme,A,1\n", "csv")
    assert str(raised.value) == "line 1 (header): missing required column 'title', 'started_at'"


def test_csv_header_with_an_unknown_column_refuses_the_file():
    with pytest.raises(ImportFileError) as raised:
        read_records(b"source,external_id,title,started_at,sevrity\n", "csv")
    assert str(raised.value) == "line 1 (header): unknown column 'sevrity'"


def test_csv_source_column_may_be_left_to_the_default():
    records, _ = read(b"external_id,title,started_at\nA,x,2024-01-01T00:00:00Z\n", "csv", default_source="team")
    assert records["A"].fields["source"] == "team"


def test_csv_row_with_a_missing_cell_and_bad_values():
    content = (
        "source,external_id,title,severity,started_at,tags\n"
        'acme,A,"a title\nover two lines",1,2024-01-01T00:00:00Z,\n'
        "acme,B,no severity cell,2024-01-01T00:00:00Z\n"
        "acme,C,bad severity,urgent,2024-01-01T00:00:00Z,\n"
        "acme,D,bad tags,1,2024-01-01T00:00:00Z,gpu\n"
    )
    records, errors = read(content, "csv")
    assert list(records) == ["A"]
    assert records["A"].fields["title"] == "a title\nover two lines"
    assert errors == [
        "line 4: has 4 fields; the header has 6",
        "line 5, field severity: 'urgent' is not a severity; use a whole number from 0 (highest) to 4",
        "line 6, field tags: not a JSON list: Expecting value: line 1 column 1 (char 0)",
    ]


@pytest.mark.parametrize(
    ("cell", "error"),
    [
        # "²" passes str.isdigit() but not int(); "٣" is an Arabic-Indic 3; 5,000 digits are past int()'s limit
        ("\u00b2", "'\u00b2' is not a severity; use a whole number from 0 (highest) to 4"),
        ("\u0663", "'\u0663' is not a severity; use a whole number from 0 (highest) to 4"),
        ("1" * 5000, f"'{'1' * 5000}' is not a severity; use a whole number from 0 (highest) to 4"),
        ("7", "'7' is not a severity; use a whole number from 0 (highest) to 4"),
        ("01", "'01' is not a severity; use a whole number from 0 (highest) to 4"),
    ],
)
def test_csv_severity_is_one_of_the_ascii_digits_0_to_4(cell, error):
    content = (
        "source,external_id,title,started_at,severity\n"
        "acme,A,ok,2024-01-01T00:00:00Z, 4 \n"
        f"acme,B,bad,2024-01-01T00:00:00Z,{cell}\n"
    )
    records, errors = read(content, "csv")
    assert errors == [f"line 3, field severity: {error}"]
    assert records["A"].fields["severity"] == 4


def test_csv_list_cell_nested_past_the_recursion_limit_is_a_field_error():
    content = (
        "source,external_id,title,started_at,tags\n"
        f"acme,A,ok,2024-01-01T00:00:00Z,{'[' * 5000 + ']' * 5000}\n"
        "acme,B,ok,2024-01-01T00:00:00Z,\n"
    )
    records, errors = read(content, "csv")
    assert errors == ["line 2, field tags: not a JSON list: nested too deeply"]
    assert list(records) == ["B"]


def test_csv_and_jsonl_of_the_same_incident_hash_alike():
    jsonl_records, _ = read(line(severity=2, tags=["a"]))
    csv_records, _ = read('source,external_id,title,started_at,severity,tags\nacme,X-1,Chat times out,'
                          '2024-05-01T12:00:00+00:00,2,"[""a""]"\n', "csv")  # fmt: skip
    assert jsonl_records["X-1"].content_hash == csv_records["X-1"].content_hash
    changed, _ = read(line(severity=2, tags=["b"]))
    assert changed["X-1"].content_hash != jsonl_records["X-1"].content_hash


def test_unknown_format_is_refused():
    with pytest.raises(ImportFileError) as raised:
        read_records(b"x", "xml")
    assert str(raised.value) == "unknown format 'xml'; use one of jsonl, csv, statuspage"
