"""Embedding throughput: labeling.embeddings.encode against plain SentenceTransformer.encode.

Same texts (real incident texts built from seeded demo incidents), same model, same CPU;
each side is warmed up, then timed REPEATS times alternately, best run kept. Prints texts/s
for both, the speed-up, and the lowest cosine between the two vectors of any text.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django

TEXTS = 512
REPEATS = 3


def incident_texts(count):
    from django.core.management import call_command

    from incidents.models import Incident
    from labeling.actions import incident_embedding_text

    if Incident.objects.count() < count:
        call_command("seed_demo", count=count, verbosity=0)
    incidents = Incident.objects.order_by("?").prefetch_related("updates")[:count]
    return [incident_embedding_text(incident) for incident in incidents]


def best_rate(function, texts):
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        function(texts)
        timings.append(time.perf_counter() - started)
    return len(texts) / min(timings), len(texts) / statistics.median(timings)


def main():
    setup_django()
    import numpy as np
    import torch

    from labeling import embeddings

    texts = incident_texts(TEXTS)
    model = embeddings.get_model()
    threads = torch.get_num_threads()
    print(f"model {embeddings.model_name()} on {model.device}, torch threads {threads}, {len(texts)} texts")
    print(f"text length: median {statistics.median(map(len, texts)):.0f} chars")

    def plain(batch):
        return model.encode(batch, normalize_embeddings=True, show_progress_bar=False)

    plain(texts[:64])
    embeddings.encode(texts[:64])  # warm-up both
    plain_best, plain_median = best_rate(plain, texts)
    fast_best, fast_median = best_rate(embeddings.encode, texts)
    cosine = np.sum(plain(texts) * embeddings.encode(texts), axis=1)
    print(f"plain SentenceTransformer.encode: {plain_best:7.1f} texts/s (median run {plain_median:.1f})")
    print(f"labeling.embeddings.encode:       {fast_best:7.1f} texts/s (median run {fast_median:.1f})")
    print(f"speed-up: {fast_best / plain_best:.2f}x; lowest cosine between the two: {cosine.min():.6f}")


if __name__ == "__main__":
    main()
