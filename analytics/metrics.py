"""The keys and reference figures the dashboards are defined by (PRODUCT.md §3); pure data.

Taxonomies are editable data, but these metrics are defined on the default taxonomy's keys:
a taxonomy without them simply shows empty charts for the metric.
"""

from dataclasses import dataclass

CATEGORY = "category"
DETECTION = "detection"
MITIGATION = "mitigation"

# Auto-detection rate: share of decided incidents whose detection is this option.
AUTOMATED = "automated"
# Hotfix rate: share of decided incidents whose mitigation includes this option.
HOTFIX = "hotfix"
# The "automation opportunity": mitigations an operator performs by hand today that a
# controller could do (traffic routing, node rebalancing, capacity increase).
OPERATIONAL_MITIGATIONS = ("traffic_routing", "node_rebalancing", "capacity_increase")
INFERENCE_ENGINE = "inference_engine"
TIMEOUT = "timeout"

PAPER = "arXiv 2511.07424"
STUDY_SAMPLE = "156 high-severity incidents, April to June 2025"
ABSTRACT = "paper abstract"
SECONDARY = "secondary summary"


@dataclass(frozen=True)
class Reference:
    """One figure of the study, and where it comes from (the abstract or a secondary summary)."""

    key: str
    label: str
    value: float
    source: str
    kind: str = "share"  # "share" (0..1), "kappa" or "count"


STUDY_REFERENCES = (
    Reference("inference_engine", "Inference engine share", 0.60, ABSTRACT),
    Reference("infrastructure", "Infrastructure share", 0.20, SECONDARY),
    Reference("model_configuration", "Model configuration share", 0.16, SECONDARY),
    Reference("operational", "Operational share", 0.04, SECONDARY),
    Reference("timeout_in_engine", "Timeouts within inference-engine failures", 0.40, ABSTRACT),
    Reference("auto_detected", "Auto-detected", 0.74, ABSTRACT),
    Reference("hotfix", "Mitigated by hotfix", 0.28, ABSTRACT),
    Reference("kappa", "Labeler agreement (Cohen's kappa, category)", 0.89, ABSTRACT, kind="kappa"),
    Reference("incidents", "Decided incidents (n: all incidents in the period)", 156, ABSTRACT, kind="count"),
)
