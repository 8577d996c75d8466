"""Embedding throughput: labeling.embeddings.encode against plain SentenceTransformer.encode.

Same texts (incident texts built from seeded demo incidents, all at the model's 256 word
pieces), same model, same process. Other jobs share this machine's two cores, so the two
sides are timed alternately, ROUNDS times, after a warm-up of each; the medians are printed,
with the median of the per-round speed-ups. The vectors are compared text by text: the
lowest cosine between the two vectors of any text, incident texts and titles (short, as
typed queries are) alike, must stay at or above 0.999.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import setup_django

TEXTS = 256
ROUNDS = 5


def incidents(count):
    from django.core.management import call_command

    from incidents.models import Incident

    if Incident.objects.count() < count:
        call_command("seed_demo", count=count, verbosity=0)
    return list(Incident.objects.order_by("?").prefetch_related("updates")[:count])


def seconds(function, texts):
    started = time.perf_counter()
    function(texts)
    return time.perf_counter() - started


def main():
    setup_django()
    import numpy as np
    import torch

    from labeling import embeddings
    from labeling.actions import incident_embedding_text

    sample = incidents(TEXTS)
    texts = [incident_embedding_text(incident) for incident in sample]
    model = embeddings.get_model()
    print(
        f"model {embeddings.model_name()} on {model.device}, torch threads {torch.get_num_threads()}, "
        f"bfloat16 units: {embeddings.cpu_multiplies_bfloat16()}, {len(texts)} texts, "
        f"median {statistics.median(map(len, texts)):.0f} chars"
    )

    def plain(batch):
        return model.encode(batch, normalize_embeddings=True, show_progress_bar=False)

    plain(texts[:64])
    embeddings.encode(texts[:64])  # warm-up both
    plain_times, fast_times = [], []
    for _ in range(ROUNDS):
        plain_times.append(seconds(plain, texts))
        fast_times.append(seconds(embeddings.encode, texts))
    checked = texts + [incident.title for incident in sample]
    cosine = np.sum(plain(checked) * embeddings.encode(checked), axis=1)
    speedups = [slow / fast for slow, fast in zip(plain_times, fast_times, strict=True)]
    for label, times in (("plain SentenceTransformer.encode", plain_times), ("labeling.embeddings.encode", fast_times)):
        rates = ", ".join(f"{len(texts) / run:.1f}" for run in times)
        print(f"{label + ':':<34} {len(texts) / statistics.median(times):7.1f} texts/s median ({rates})")
    print(
        f"speed-up: {statistics.median(speedups):.2f}x median of {ROUNDS} rounds; "
        f"lowest cosine between the two over {len(checked)} texts: {cosine.min():.6f}"
    )


if __name__ == "__main__":
    main()
