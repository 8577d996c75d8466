"""Suggestions for 500 undecided incidents: time to score and store them (target: under a minute).

Seeds labeled demo incidents of the default taxonomy (`seed_demo`), embeds them, trains the
suggestion model on the decided ones (timed apart: it runs in the background in production),
then times `suggest_labels` for SUGGEST_COUNT undecided incidents: their texts through the
tuned encoder, the pgvector neighbour vote, the blend and the writes. Prints figures,
asserts nothing.

    .venv/bin/python bench/bench_suggest.py [INCIDENTS]
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django, timed

# Demo incidents to seed: enough that at least SUGGEST_COUNT of them are undecided (the demo
# leaves recent incidents unlabeled) and a few thousand are decided to learn from.
INCIDENTS = 4000
SUGGEST_COUNT = 500
TAXONOMY_KEY = "llm-incidents"
EMBED_CHUNK = 256


def ensure_incidents(count):
    from django.core.management import call_command

    from incidents.models import Incident

    missing = count - Incident.objects.count()
    if missing > 0:
        with timed(f"seed_demo {missing}", missing, "incidents"):
            call_command("seed_demo", count=missing, verbosity=0)


def ensure_vectors():
    from labeling.actions import embed_incidents
    from labeling.queries import stale_embedding_incident_ids

    ids = stale_embedding_incident_ids(limit=10**7)
    if not ids:
        return
    with timed(f"embed {len(ids)} incidents", len(ids), "texts"):
        for start in range(0, len(ids), EMBED_CHUNK):
            embed_incidents(ids[start : start + EMBED_CHUNK])


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else INCIDENTS
    setup_django(database="triage_bench_suggest")
    from labeling.actions.suggestions import needs_training, suggest_labels, train_suggestion_model
    from labeling.models import Suggestion, Taxonomy
    from labeling.suggestions.queries import decided_options, undecided_incident_ids

    ensure_incidents(count)
    ensure_vectors()
    taxonomy = Taxonomy.objects.get(key=TAXONOMY_KEY, active=True)
    undecided = undecided_incident_ids(taxonomy)
    print(f"{len(decided_options(taxonomy))} decided incidents, {len(undecided)} undecided", flush=True)
    if needs_training(taxonomy):
        with timed("train the suggestion model (background work in production)"):
            model = train_suggestion_model(taxonomy)
        print(f"model {model.version}, {len(model.state) / 1e6:.1f} MB stored", flush=True)
    batch = undecided[:SUGGEST_COUNT]
    Suggestion.objects.filter(incident_id__in=batch).delete()
    started = time.perf_counter()
    result = suggest_labels(taxonomy, batch, train=False)
    elapsed = time.perf_counter() - started
    print(
        f"suggest {result.incidents} undecided incidents: {elapsed:.1f} s "
        f"({result.incidents / elapsed:.1f} incidents/s, {result.suggestions} suggestions stored) "
        f"with {result.version}",
        flush=True,
    )


if __name__ == "__main__":
    main()
