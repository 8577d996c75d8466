"""Similar-incident search at 100,000 incidents: HNSW recall@10 and API latency.

Vectors: REAL_VECTORS demo incidents are embedded with the real model; every other incident
gets the vector of a random real one plus Gaussian noise, renormalised (cosine about 0.9 to
its parent). That keeps the clustered shape of real text embeddings — uniform random vectors
have no neighbours worth finding and no index handles them well.
"""

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django, timed

INCIDENTS = 100_000
REAL_VECTORS = 2_000
NOISE = 0.02  # per dimension; with 384 dimensions this puts a copy at cosine ~0.9 of its parent
QUERIES = 200
LATENCY_REQUESTS = 200
K = 10


def ensure_incidents():
    from django.core.management import call_command

    from incidents.models import Incident

    missing = INCIDENTS - Incident.objects.count()
    if missing > 0:
        with timed(f"seed_demo {missing}", missing, "incidents"):
            call_command("seed_demo", count=missing, verbosity=0)


def ensure_vectors():
    from django.db import connection

    from incidents.models import Incident
    from labeling import embeddings
    from labeling.actions import embed_incidents
    from labeling.models import Embedding

    name = embeddings.model_name()
    if Embedding.objects.filter(model_name=name).count() >= INCIDENTS:
        return
    Embedding.objects.all().delete()
    real_ids = list(Incident.objects.order_by("?").values_list("pk", flat=True)[:REAL_VECTORS])
    with timed(f"embed {REAL_VECTORS} incidents with the real model", REAL_VECTORS, "texts"):
        for start in range(0, len(real_ids), 256):
            embed_incidents(real_ids[start : start + 256])
    with connection.cursor() as cursor, timed("derive the other vectors and rebuild the HNSW index"):
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'embedding_vector_hnsw'")
        (index_definition,) = cursor.fetchone()
        cursor.execute("DROP INDEX embedding_vector_hnsw")
        cursor.execute(_DERIVE_SQL, {"name": name, "noise": NOISE})
        cursor.execute("SET maintenance_work_mem = '2GB'")
        cursor.execute(index_definition)
        cursor.execute("ANALYZE labeling_embedding")


# Each incident without a vector takes a random real vector plus noise (Box-Muller normals).
_DERIVE_SQL = """
WITH parents AS (SELECT vector, row_number() OVER (ORDER BY random()) - 1 AS n FROM labeling_embedding),
     parent_count AS (SELECT count(*) AS c FROM parents),
     orphans AS (
        SELECT i.id, (row_number() OVER (ORDER BY i.id)) %% (SELECT c FROM parent_count) AS n
        FROM incidents_incident i
        WHERE NOT EXISTS (SELECT 1 FROM labeling_embedding e WHERE e.incident_id = i.id)
     )
INSERT INTO labeling_embedding (incident_id, model_name, text_hash, vector, created_at, updated_at)
SELECT o.id, %(name)s, 'derived', l2_normalize(p.vector + (
           SELECT array_agg(%(noise)s * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
           FROM generate_series(1, 384) WHERE o.id IS NOT NULL)::vector),
       now(), now()
FROM orphans o JOIN parents p ON p.n = o.n
"""


def recall_at_k(query_ids):
    from django.db import connection, transaction

    from incidents.models import Incident
    from labeling.models import Embedding
    from labeling.similarity import nearest_by_vector

    hits = 0
    candidates = Incident.objects.all()
    for incident_id in query_ids:
        vector = Embedding.objects.get(incident_id=incident_id).vector
        approximate = [row[0] for row in nearest_by_vector(candidates.exclude(pk=incident_id), vector, K)]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute(
                "SELECT incident_id FROM labeling_embedding WHERE incident_id <> %s"
                " ORDER BY vector <=> %s::vector LIMIT %s",
                [incident_id, vector, K],
            )
            exact = [row[0] for row in cursor.fetchall()]
        hits += len(set(approximate) & set(exact))
    return hits / (K * len(query_ids))


def latencies(client, urls):
    timings = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def main():
    setup_django()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from accounts.actions import create_user_with_role
    from accounts.roles import Role
    from incidents.models import Incident

    setup_test_environment()
    ensure_incidents()
    ensure_vectors()
    rng = random.Random(3)
    ids = list(Incident.objects.values_list("pk", flat=True))
    query_ids = rng.sample(ids, QUERIES)
    with timed(f"recall@{K} over {QUERIES} queries"):
        print(f"recall@{K} of HNSW against exact search: {recall_at_k(query_ids):.3f}")
    user, _ = create_user_with_role("bench-oncall", Role.ONCALL)
    client = Client()
    client.force_login(user)
    services = list(Incident.objects.values_list("service", flat=True).distinct())
    sample = rng.sample(ids, LATENCY_REQUESTS)
    symptoms = [incident.title for incident in Incident.objects.filter(pk__in=sample[:50])]
    cases = {
        "incident, no filter": [f"/api/incidents/{pk}/similar/?k={K}" for pk in sample],
        "incident, service filter": [
            f"/api/incidents/{pk}/similar/?k={K}&service={rng.choice(services)}" for pk in sample
        ],
        "incident, decided only + category": [
            f"/api/incidents/{pk}/similar/?k={K}&decided_only=true&category=operational" for pk in sample
        ],
        "text, no filter": [f"/api/similar/?k={K}&q={symptom}" for symptom in symptoms * 4],
        "text, service filter": [
            f"/api/similar/?k={K}&q={symptom}&service={rng.choice(services)}" for symptom in symptoms * 4
        ],
    }
    client.get(cases["text, no filter"][0])  # loads the model once, as a running web process has
    for label, urls in cases.items():
        p50, p95 = latencies(client, urls)
        print(f"similar API, {label:<34} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   ({len(urls)} requests)")


if __name__ == "__main__":
    main()
