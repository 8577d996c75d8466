"""Property tests: whatever bytes arrive, the importers give records or clean errors, never a crash."""

import json

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
