"""Property tests: whatever bytes arrive, the importers give records or clean errors, never a crash."""

import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.importers import ImportFileError, Record, RowError, read_records

FORMATS = ["jsonl", "csv", "statuspage"]
FIELDS = ["source", "external_id", "title", "severity", "status", "started_at", "resolved_at", "service", "tags"]


def _read_all(content, fmt):
    """Every item of a file, or the file-level error; any other exception fails the property."""
    try:
        rows = read_records(content, fmt, default_source="fuzz", max_bytes=1_000_000)
        return list(rows), None
    except ImportFileError as error:
        return [], error


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=2000), fmt=st.sampled_from(FORMATS))
def test_any_bytes_give_records_or_clean_errors(content, fmt):
    items, error = _read_all(content, fmt)
    if error is not None:
        assert str(error)  # a reason to show
        assert items == []
    for item in items:
        assert isinstance(item, Record | RowError)
        if isinstance(item, RowError):
            assert item.position and item.reason


_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40),
    st.lists(st.text(max_size=5), max_size=3), st.sampled_from(["2025-01-01T00:00:00Z", "yesterday", "", "3"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.dictionaries(st.sampled_from(FIELDS), _values, max_size=len(FIELDS)), max_size=8))
def test_any_json_lines_give_a_record_or_errors_for_every_line(rows):
    content = "\n".join(json.dumps(row) for row in rows).encode()
    items, error = _read_all(content, "jsonl")
    if not rows:
        assert error is not None  # an empty file is refused as a whole
        return
    assert error is None
    assert {item.position for item in items} == {f"line {number}" for number in range(1, len(rows) + 1)}
    records = [item for item in items if isinstance(item, Record)]
    assert len({record.position for record in records}) == len(records)  # a line is a record or errors
    assert not {record.position for record in records} & {i.position for i in items if isinstance(i, RowError)}
    for item in items:
        if isinstance(item, Record):
            fields = item.fields
            assert fields["title"] and 0 <= fields["severity"] <= 4
            for later in ("detected_at", "mitigated_at", "resolved_at"):
                assert fields.get(later) is None or fields[later] >= fields["started_at"]


@settings(max_examples=300, deadline=None)
@given(
    # near year 1 or 9999 an offset can take the time past what datetime holds in UTC
    when=st.datetimes(max_value=datetime(1, 1, 2)) | st.datetimes(min_value=datetime(9999, 12, 31)) | st.datetimes(),
    offset=st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
    fmt=st.sampled_from(["jsonl", "csv"]),
)
def test_any_date_time_with_any_offset_gives_a_record_or_a_field_error(when, offset, fmt):
    stamp = when.replace(tzinfo=timezone(timedelta(minutes=offset))).isoformat()
    if fmt == "jsonl":
        content = json.dumps({"external_id": "A", "title": "t", "started_at": stamp})
    else:
        content = f"external_id,title,started_at\nA,t,{stamp}\n"
    items, error = _read_all(content.encode(), fmt)
    assert error is None
    [item] = items
    if isinstance(item, RowError):
        assert item.field == "started_at"
    else:
        assert item.fields["started_at"] == datetime.fromisoformat(stamp)


@settings(max_examples=300, deadline=None)
@given(cell=st.text(st.characters(categories=["Nd", "No", "Zs"]) | st.sampled_from("01234567 "), max_size=4))
def test_a_severity_cell_is_read_only_as_the_ascii_digits_0_to_4(cell):
    # str.isdigit() and int() take digits of every script, and "²", which int() then refuses
    items, error = _read_all(f"external_id,title,started_at,severity\nA,t,2024-01-01,{cell}\n".encode(), "csv")
    assert error is None
    [item] = items
    if cell.strip() in {"0", "1", "2", "3", "4"}:
        assert item.fields["severity"] == int(cell)
    elif cell == "":
        assert item.fields["severity"] == 2  # a missing severity is SEV2
    else:
        assert (item.field, item.reason) == (
            "severity",
            f"{cell!r} is not a severity; use a whole number from 0 (highest) to 4",
        )
