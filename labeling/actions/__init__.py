"""Writes of the labeling app, one module per subject; the public actions are listed here."""

from labeling.actions.annotations import LabelError, check_options, refresh_decision, save_annotation
from labeling.actions.feedback import record_similarity_feedback
from labeling.actions.label_import import LabelImportResult, import_labels
from labeling.actions.suggestions import (
    evaluate_suggestions,
    needs_training,
    suggest_labels,
    train_suggestion_model,
)
from labeling.actions.taxonomy import (
    DEFAULT_TAXONOMY_FILE,
    import_taxonomy,
    seed_default_taxonomy,
    update_taxonomy_settings,
)
from labeling.actions.taxonomy_versions import Change, carry_over_labels, create_version
from labeling.actions.vectors import embed_incidents, incident_embedding_text

__all__ = [
    "DEFAULT_TAXONOMY_FILE",
    "Change",
    "LabelError",
    "LabelImportResult",
    "carry_over_labels",
    "check_options",
    "create_version",
    "embed_incidents",
    "evaluate_suggestions",
    "import_labels",
    "import_taxonomy",
    "incident_embedding_text",
    "needs_training",
    "record_similarity_feedback",
    "refresh_decision",
    "save_annotation",
    "seed_default_taxonomy",
    "suggest_labels",
    "train_suggestion_model",
    "update_taxonomy_settings",
]
