"""Reproducible synthetic incidents of LLM serving teams, labeled like the study's sample.

Pure: no ORM. `generate_incidents` yields plain records that `manage.py seed_demo` writes with
COPY and that tests check directly. Labels follow the reference proportions of PRODUCT.md §3
on the default taxonomy, and every text (title, postmortem, timeline) is written from the
phrase banks of the incident's own subcategory, detection and mitigation, so similarity
search and suggestions trained on the demo data find real signal in the text.
"""

import random
from bisect import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from labeling import demo_text as text

SOURCE = "demo"
# Indexes below 2**32 keep the per-incident random seeds of different seeds apart.
INDEX_BITS = 32
TAXONOMY_KEY = "llm-incidents"
# Impact starts spread over this many days before `now` (PRODUCT.md: "the last 18 months").
HISTORY_DAYS = 548
# Every incident starts at least this long before `now`, so the slowest one (under a day from
# start to resolution, see the caps below) is resolved and its postmortem published by `now`.
MIN_AGE_DAYS = 2
# >1 puts more incidents in recent months: fleets and traffic grow, and so do incidents.
RECENCY_SKEW = 1.3

# Top-level category share (study) and the share of each subcategory within it.
CATEGORY_WEIGHTS = {
    "inference_engine": (
        0.60,
        {"timeout": 0.40, "resource_exhaustion": 0.18, "crash": 0.12, "latency_spike": 0.15, "error_rate": 0.15},
    ),
    "infrastructure": (
        0.20,
        {
            "node_or_gpu_failure": 0.28,
            "network": 0.22,
            "capacity_allocation": 0.18,
            "deployment_misconfiguration": 0.16,
            "dependency": 0.16,
        },
    ),
    "model_configuration": (
        0.16,
        {
            "header_or_parameter_misconfiguration": 0.28,
            "invalid_output": 0.26,
            "encoding_decoding": 0.18,
            "model_deployment": 0.28,
        },
    ),
    "operational": (
        0.04,
        {
            "detection_gap": 0.20,
            "alert_misconfiguration": 0.20,
            "traffic_imbalance": 0.25,
            "change_management": 0.20,
            "human_error": 0.15,
        },
    ),
}
PARENT_OF = {sub: top for top, (_, subs) in CATEGORY_WEIGHTS.items() for sub in subs}

# Automated is set a little above the study's 74% because the two alerting subcategories
# below are never auto-detected; together they land on ~74%.
DETECTION_WEIGHTS = {"automated": 0.752, "internal_manual": 0.133, "customer_reported": 0.115}
UNMONITORED_DETECTION = {"internal_manual": 0.5, "customer_reported": 0.5}
UNMONITORED_SUBCATEGORIES = {"detection_gap", "alert_misconfiguration"}

# Base mix of the first mitigation; each subcategory triples its typical ones (below), and a
# second mitigation is added to SECOND_MITIGATION_SHARE of incidents. Tuned so hotfix lands
# on the study's ~28% of incidents.
MITIGATION_WEIGHTS = {
    "hotfix": 0.185,
    "traffic_routing": 0.22,
    "node_rebalancing": 0.19,
    "capacity_increase": 0.16,
    "rollback": 0.06,
    "configuration_change": 0.06,
    "self_recovered": 0.05,
    "upstream_fix": 0.04,
}
TYPICAL_MITIGATION_BOOST = 3.0
TYPICAL_MITIGATIONS = {
    "timeout": ("hotfix", "configuration_change", "traffic_routing"),
    "resource_exhaustion": ("capacity_increase", "node_rebalancing"),
    "crash": ("hotfix", "node_rebalancing"),
    "latency_spike": ("traffic_routing", "node_rebalancing"),
    "error_rate": ("hotfix", "traffic_routing"),
    "node_or_gpu_failure": ("node_rebalancing", "traffic_routing"),
    "network": ("traffic_routing", "upstream_fix"),
    "capacity_allocation": ("capacity_increase",),
    "deployment_misconfiguration": ("rollback", "hotfix"),
    "dependency": ("upstream_fix", "traffic_routing"),
    "header_or_parameter_misconfiguration": ("hotfix", "configuration_change"),
    "invalid_output": ("rollback", "hotfix"),
    "encoding_decoding": ("hotfix", "rollback"),
    "model_deployment": ("rollback", "traffic_routing"),
    "detection_gap": ("hotfix",),
    "alert_misconfiguration": ("configuration_change",),
    "traffic_imbalance": ("traffic_routing", "node_rebalancing"),
    "change_management": ("rollback", "configuration_change"),
    "human_error": ("rollback", "node_rebalancing"),
}
SECOND_MITIGATION_SHARE = 0.21

# Severity 0 (highest) to 4, skewed to 1-2 like a postmortem corpus of serious incidents.
SEVERITY_WEIGHTS = (0.04, 0.36, 0.40, 0.15, 0.05)
SERVICE_WEIGHTS = {
    "chat-api": 0.25, "completions-api": 0.08, "embeddings-api": 0.10, "batch-inference": 0.07,
    "image-gen": 0.06, "speech-api": 0.06, "model-router": 0.10, "assistants-api": 0.06, "realtime-api": 0.05,
    "moderation-api": 0.03, "rerank-api": 0.03, "fine-tuning-api": 0.03, "vision-api": 0.08,
}  # fmt: skip

# Minutes from impact to detection: (median, spread, floor, cap) of a log-normal draw;
# people notice later than monitors, customers later still.
TTD_MINUTES = {
    "automated": (4.0, 0.8, 0.5, 60.0),
    "internal_manual": (20.0, 0.7, 3.0, 180.0),
    "customer_reported": (35.0, 0.7, 5.0, 300.0),
}
DETECT_TO_MITIGATE_MINUTES = (45.0, 0.9, 5.0, 600.0)
MITIGATE_TO_RESOLVE_MINUTES = (40.0, 0.9, 5.0, 600.0)

# About 85% of incidents are labeled; the newest most often are not yet (a labeling backlog),
# and a few old ones were skipped: P(undecided) = UNDECIDED_FLOOR + UNDECIDED_AT_NOW * (1 -
# age / HISTORY_DAYS) ** UNDECIDED_DECAY.
UNDECIDED_FLOOR = 0.04
UNDECIDED_AT_NOW = 0.55
UNDECIDED_DECAY = 6
# Share of labeled incidents a second analyst labels blind, and how often they agree per dimension.
DOUBLE_LABEL_SHARE = 0.20
SECOND_ANALYST_AGREEMENT = 0.90
# Labels are made this many days after resolution (capped at `now`).
LABEL_DELAY_DAYS = (0.5, 14.0)

# Stages of a status-page timeline (3 to 6 updates), in posting order.
TIMELINE_PATTERNS = (
    ("investigating", "identified", "resolved"),
    ("investigating", "monitoring", "resolved"),
    ("investigating", "identified", "monitoring", "resolved"),
    ("investigating", "identified", "resolved", "postmortem"),
    ("investigating", "update", "monitoring", "resolved"),
    ("investigating", "identified", "update", "monitoring", "resolved"),
    ("investigating", "identified", "monitoring", "resolved", "postmortem"),
    ("investigating", "identified", "update", "monitoring", "resolved", "postmortem"),
    ("investigating", "update", "identified", "update", "monitoring", "resolved"),
)
BEFORE_MITIGATION = {"identified", "update"}


@dataclass(slots=True)
class DemoLabels:
    """One analyst's values: a category leaf (subcategory), a detection and the mitigations."""

    category: str
    detection: str
    mitigation: tuple


@dataclass(slots=True)
class DemoIncident:
    """One synthetic incident with its timeline and labels, ready to be written by seed_demo."""

    index: int
    external_id: str
    title: str
    summary: str
    postmortem: str
    severity: int
    status: str
    service: str
    model_name: str
    modality: str
    region: str
    endpoint: str
    started_at: datetime
    detected_at: datetime
    mitigated_at: datetime
    resolved_at: datetime
    tags: list
    customer_impact: str
    updates: list  # [(stage, posted_at, body)], in posting order
    labels: DemoLabels  # the truth the text was written from
    decided: bool  # whether an analyst has labeled it yet
    second: DemoLabels | None  # the second analyst's blind labels, if double-labeled
    labeled_at: datetime | None


class _Picker:
    """A weighted choice by bisecting precomputed cumulative weights (cheaper than choices())."""

    __slots__ = ("cumulative", "keys", "total")

    def __init__(self, weights):
        self.keys = tuple(weights)
        self.cumulative = tuple(accumulate(weights.values()))
        self.total = self.cumulative[-1]

    def __call__(self, rng):
        return self.keys[bisect(self.cumulative, rng.random() * self.total)]


def _one(rng, sequence):
    """rng.choice without its rejection sampling: a third of the cost, and the demo's hot path."""
    return sequence[int(rng.random() * len(sequence))]


def _between(rng, low, high):
    """rng.randint(low, high), the cheap way (see _one)."""
    return low + int(rng.random() * (high - low + 1))


def _leaf_weights():
    return {sub: top_w * sub_w for top_w, subs in CATEGORY_WEIGHTS.values() for sub, sub_w in subs.items()}


def _mitigation_pickers():
    """Per subcategory: a picker over mitigations with its typical ones boosted."""
    pickers = {}
    for sub, typical in TYPICAL_MITIGATIONS.items():
        weights = {k: w * (TYPICAL_MITIGATION_BOOST if k in typical else 1.0) for k, w in MITIGATION_WEIGHTS.items()}
        pickers[sub] = _Picker(weights)
    return pickers


_CATEGORY = _Picker(_leaf_weights())
_DETECTION = _Picker(DETECTION_WEIGHTS)
_UNMONITORED = _Picker(UNMONITORED_DETECTION)
_MITIGATION = _mitigation_pickers()
_SEVERITY = _Picker(dict(enumerate(SEVERITY_WEIGHTS)))
_SERVICE = _Picker(SERVICE_WEIGHTS)


def external_id_prefix(seed):
    """What every demo incident of `seed` starts with; seed_demo finds its last one by it."""
    return f"DEMO-{seed}-"


def external_id_for(seed, index):
    """The stable id of demo incident `index` of `seed`; seed_demo continues after the highest."""
    return f"{external_id_prefix(seed)}{index:07d}"


def generate_incidents(count, seed, now, start=0):
    """Yield `count` incidents numbered from `start`; the same arguments give the same records.

    Each incident draws from its own stream seeded by (seed, index): incident 42 of seed 7 is
    the same whether it was made alone, in a batch or in another process, and a second run of
    seed_demo (which continues numbering) adds new incidents, not copies of the first run's.
    """
    rng = random.Random()
    for index in range(start, start + count):
        rng.seed((seed << INDEX_BITS) | index)
        yield _incident(rng, seed, index, now)


def _incident(rng, seed, index, now):
    labels = _draw_labels(rng)
    severity = _SEVERITY(rng)
    times = _draw_times(rng, now, labels)
    bank = text.SUBCATEGORY_TEXT[labels.category]
    story = _one(rng, bank["stories"])
    slots = _draw_slots(rng, labels, severity, times, story)
    decided = rng.random() >= _undecided_probability(now, times[0])
    updates = _timeline(rng, slots, times, now)
    return DemoIncident(
        index=index,
        external_id=external_id_for(seed, index),
        title=_one(rng, story["titles"] + bank["titles"]).format_map(slots),
        summary=_one(rng, text.SUMMARY_TEXT).format_map(slots),
        postmortem=_postmortem(rng, slots, labels, severity, story["cause"]),
        severity=severity,
        status=updates[-1][0],
        service=slots["service"],
        model_name=slots["model"],
        modality=slots["modality"],
        region=slots["region"],
        endpoint=slots["endpoint"],
        started_at=times[0],
        detected_at=times[1],
        mitigated_at=times[2],
        resolved_at=times[3],
        tags=_tags(rng, labels, slots["service"]),
        customer_impact=_one(rng, text.CUSTOMER_IMPACT_TEXT).format_map(slots),
        updates=updates,
        labels=labels,
        decided=decided,
        second=_second_opinion(rng, labels) if decided and rng.random() < DOUBLE_LABEL_SHARE else None,
        labeled_at=_labeled_at(rng, now, times[3]) if decided else None,
    )


def _draw_labels(rng):
    category = _CATEGORY(rng)
    detection = _UNMONITORED(rng) if category in UNMONITORED_SUBCATEGORIES else _DETECTION(rng)
    return DemoLabels(category, detection, _draw_mitigations(rng, category))


def _draw_mitigations(rng, category):
    """One mitigation, or two for SECOND_MITIGATION_SHARE (never self_recovered plus another)."""
    picker = _MITIGATION[category]
    first = picker(rng)
    if first == "self_recovered" or rng.random() >= SECOND_MITIGATION_SHARE:
        return (first,)
    second = picker(rng)
    while second in (first, "self_recovered"):
        second = picker(rng)
    return (first, second)


def _second_opinion(rng, labels):
    """The second analyst's blind labels: each dimension agrees SECOND_ANALYST_AGREEMENT of the time."""
    category, detection, mitigation = labels.category, labels.detection, labels.mitigation
    if rng.random() >= SECOND_ANALYST_AGREEMENT:
        category = _other(rng, category, _CATEGORY)
    if rng.random() >= SECOND_ANALYST_AGREEMENT:
        detection = _other(rng, detection, _DETECTION)
    if rng.random() >= SECOND_ANALYST_AGREEMENT:
        mitigation = (_other(rng, mitigation[0], _MITIGATION[labels.category]), *mitigation[1:])
        mitigation = tuple(dict.fromkeys(mitigation))
    return DemoLabels(category, detection, mitigation)


def _other(rng, value, picker):
    other = picker(rng)
    while other == value:
        other = picker(rng)
    return other


def _lognormal_minutes(rng, median, spread, floor, cap):
    return min(cap, max(floor, median * rng.lognormvariate(0.0, spread)))


def _draw_times(rng, now, labels):
    """(started, detected, mitigated, resolved): detection by detection kind, then mitigation."""
    age_days = MIN_AGE_DAYS + (HISTORY_DAYS - MIN_AGE_DAYS) * rng.random() ** RECENCY_SKEW
    started = (now - timedelta(days=age_days)).replace(microsecond=0)
    ttd = _lognormal_minutes(rng, *TTD_MINUTES[labels.detection])
    to_mitigate = _lognormal_minutes(rng, *DETECT_TO_MITIGATE_MINUTES)
    if labels.mitigation[0] == "self_recovered":
        to_mitigate /= 2
    to_resolve = _lognormal_minutes(rng, *MITIGATE_TO_RESOLVE_MINUTES)
    detected = started + timedelta(seconds=round(ttd * 60))
    mitigated = detected + timedelta(seconds=round(to_mitigate * 60))
    resolved = mitigated + timedelta(seconds=round(to_resolve * 60))
    return started, detected, mitigated, resolved


def _undecided_probability(now, started):
    age_share = (now - started).total_seconds() / (HISTORY_DAYS * 86400)
    return UNDECIDED_FLOOR + UNDECIDED_AT_NOW * max(0.0, 1.0 - age_share) ** UNDECIDED_DECAY


def _labeled_at(rng, now, resolved):
    labeled = resolved + timedelta(seconds=round(rng.uniform(*LABEL_DELAY_DAYS) * 86400))
    return min(labeled, now - timedelta(minutes=1))


def _minutes_text(minutes):
    minutes = round(minutes)
    if minutes < 60:
        return f"{max(minutes, 1)} minutes"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _draw_slots(rng, labels, severity, times, story):
    """Every value a template may name, so any template formats for any incident."""
    service = _SERVICE(rng)
    modalities, endpoints = text.SERVICES[service]
    modality = _one(rng, modalities)
    started, detected, mitigated, _ = times
    high = severity <= 1
    slots = {
        "service": service,
        "modality": modality,
        "model": _one(rng, text.MODELS[modality]),
        "region": _one(rng, text.REGIONS),
        "endpoint": _one(rng, endpoints),
        "engine": _one(rng, text.ENGINES),
        "gpu": _one(rng, text.GPUS),
        "code": "504" if labels.category == "timeout" else _one(rng, text.HTTP_CODES),
        "pct": _between(rng, 15, 80) if high else _between(rng, 1, 15),
        "duration": _minutes_text((mitigated - started).total_seconds() / 60),
        "ttd": _minutes_text((detected - started).total_seconds() / 60),
        "ttm": _minutes_text((mitigated - started).total_seconds() / 60),
        "start_hm": started.strftime("%Y-%m-%d %H:%M"),
        "mitigated_hm": mitigated.strftime("%Y-%m-%d %H:%M"),
    }
    slots.update(_draw_numbers(rng, high))
    _add_story_phrases(rng, slots, labels.category, story)
    short = text.MITIGATION_SHORT[labels.mitigation[0]].format_map(slots)
    slots["mitigation_short"] = short[0].upper() + short[1:]
    return slots


def _draw_numbers(rng, high):
    minor = _between(rng, 4, 9)
    return {
        "p99": _between(rng, 8, 90),
        "baseline": round(rng.uniform(0.3, 1.5), 1),
        "nodes": _between(rng, 2, 24),
        "replicas": _between(rng, 4, 64),
        "version": f"0.{minor}.{_between(rng, 1, 5)}",
        "prev_version": f"0.{minor}.0",
        "dependency": _one(rng, text.DEPENDENCIES),
        "timeout_s": _one(rng, (30, 60, 120, 300, 600)),
        "ctx": _one(rng, (8192, 16384, 32768, 65536, 131072)),
        "cluster": _one(rng, text.CLUSTERS),
        "flag": _one(rng, text.FLAGS),
        "qps": f"{_between(rng, 800, 25000) if high else _between(rng, 50, 3000):,}",
        "customers": f"{_between(rng, 200, 9000) if high else _between(rng, 3, 400):,}",
        "change": _one(rng, text.CHANGES),
    }


def _add_story_phrases(rng, slots, category, story):
    """Fill the phrases that templates embed; they have slots of their own, so format them first."""
    slots["signal"] = _one(rng, text.SUBCATEGORY_TEXT[category]["signal"])
    for name in ("symptom", "cause_short", "fix"):
        slots[name] = story[name].format_map(slots)


def _postmortem(rng, slots, labels, severity, cause):
    followups = rng.sample(text.SUBCATEGORY_TEXT[labels.category]["followups"], _between(rng, 2, 3))
    mitigation = " ".join(_one(rng, text.MITIGATION_TEXT[key]) for key in labels.mitigation)
    impact_bank = text.IMPACT_TEXT["high" if severity <= 1 else "low"]
    return text.POSTMORTEM_TEMPLATE.format(
        summary=_one(rng, text.SUMMARY_TEXT).format_map(slots),
        impact=_one(rng, impact_bank).format_map(slots),
        cause=cause.format_map(slots),
        detection=_one(rng, text.DETECTION_TEXT[labels.detection]).format_map(slots),
        mitigation=mitigation.format_map(slots),
        followups="\n".join(f"- {item}" for item in followups).format_map(slots),
    )


def _tags(rng, labels, service):
    tags = rng.sample(text.SUBCATEGORY_TEXT[labels.category]["tags"], 2)
    tags.append(service)
    if rng.random() < 0.4:
        tags.append(_one(rng, text.EXTRA_TAGS))
    return tags


def _timeline(rng, slots, times, now):
    """3 to 6 updates at strictly increasing times between detection and the postmortem."""
    _, detected, mitigated, resolved = times
    pattern = _one(rng, TIMELINE_PATTERNS)
    middle = [stage for stage in pattern if stage in BEFORE_MITIGATION]
    first = detected + (mitigated - detected) * 0.1
    step = (mitigated - first) / (len(middle) + 1)
    updates, middle_seen = [], 0
    for stage in pattern:
        if stage == "investigating":
            posted = first
        elif stage in BEFORE_MITIGATION:
            middle_seen += 1
            posted = first + step * middle_seen
        elif stage == "monitoring":
            posted = mitigated + (resolved - mitigated) * 0.2
        elif stage == "resolved":
            posted = resolved
        else:
            posted = resolved + min(timedelta(hours=rng.uniform(12, 120)), (now - resolved) * 0.9)
        updates.append((stage, posted.replace(microsecond=0), _one(rng, text.UPDATE_TEXT[stage]).format_map(slots)))
    return updates
