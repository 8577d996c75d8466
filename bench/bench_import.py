"""Import throughput: a generated 100,000-line JSONL file into PostgreSQL (PRODUCT.md §5).

Target ≥ 5,000 incidents/s. Three runs of the same import path the command uses: a first
import (every row created), the same file again (every row unchanged) and a file where
every row changed (updated, timelines replaced). Prints figures, asserts nothing.
"""

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django, timed

COUNT = int(os.environ.get("BENCH_IMPORT_COUNT", "100000"))
SOURCE = "bench-import"
DATABASE = "triage_bench_import"
SERVICES = ["chat-api", "embeddings-api", "image-api", "audio-api", "batch-api"]
SYMPTOMS = ["timeouts", "elevated 5xx errors", "high latency", "KV cache exhaustion", "GPU node failures"]


def generate_jsonl(count, revision=0):
    """Return `count` incident lines in the API's field names, three updates each."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    lines = []
    for number in range(count):
        started = start + timedelta(minutes=7 * number)
        symptom = SYMPTOMS[number % len(SYMPTOMS)]
        service = SERVICES[number % len(SERVICES)]
        record = {
            "source": SOURCE,
            "external_id": f"BENCH-{number:07d}",
            "title": f"{symptom.capitalize()} on {service} (r{revision})",
            "summary": f"Requests to {service} saw {symptom} for a subset of customers.",
            "severity": number % 5,
            "status": "resolved",
            "service": service,
            "model_name": "llama-70b",
            "modality": "text",
            "region": "us-east-1",
            "started_at": started.isoformat(),
            "detected_at": (started + timedelta(minutes=4)).isoformat(),
            "mitigated_at": (started + timedelta(minutes=35)).isoformat(),
            "resolved_at": (started + timedelta(hours=2)).isoformat(),
            "tags": ["bench", service],
            "updates": [
                {"stage": "investigating", "posted_at": (started + timedelta(minutes=4)).isoformat(),
                 "body": f"We are investigating {symptom} on {service}."},
                {"stage": "monitoring", "posted_at": (started + timedelta(minutes=35)).isoformat(),
                 "body": "A fix has been applied and we are monitoring the results."},
                {"stage": "resolved", "posted_at": (started + timedelta(hours=2)).isoformat(),
                 "body": "This incident has been resolved."},
            ],
        }  # fmt: skip
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def empty_the_incident_tables():
    """Start from empty tables, as a first import does (this database is the bench's own)."""
    from django.db import connection

    assert connection.settings_dict["NAME"] == DATABASE, connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE incidents_incidentupdate, incidents_incident, incidents_importbatch CASCADE")


def run(label, content):
    from incidents.imports import import_file

    with timed(f"{label} ({COUNT:,} lines, {len(content) / 1e6:.1f} MB)", count=COUNT, unit="incidents"):
        batch = import_file(file_name="bench.jsonl", content=content, fmt="jsonl")
    print(
        f"  {batch.status}: {batch.created:,} created, {batch.updated:,} updated, "
        f"{batch.unchanged:,} unchanged, {batch.rejected:,} rejected",
        flush=True,
    )


def main():
    # The generated file is larger than the default upload limit; the limit guards uploads.
    os.environ.setdefault("IMPORT_MAX_BYTES", str(1024**3))
    setup_django(DATABASE)
    from incidents import imports
    from incidents.importers import Record, read_records

    # Embedding is bench_embed's business; here it would only queue tasks for a worker that
    # reads another database. Queueing costs one broker call per 128 incidents.
    imports.request_embeddings = lambda incident_ids: None

    empty_the_incident_tables()
    first = generate_jsonl(COUNT)
    with timed("parse and check only", count=COUNT, unit="incidents"):
        parsed = sum(isinstance(item, Record) for item in read_records(first, "jsonl"))
    print(f"  {parsed:,} valid records", flush=True)
    run("import, all new", first)
    run("import again, all unchanged", first)
    run("import, all changed", generate_jsonl(COUNT, revision=1))


if __name__ == "__main__":
    main()
