"""Label suggestions: a few-shot tuned encoder, a neighbour vote and the option texts, calibrated.

Modules: `text` (what the model reads), `tuning` (fine-tuning the embedding model's top
layers), `model` (one dimension's voices, blend and calibration), `training` (fit and
cross-validate a taxonomy), `metrics` (accuracy, macro-F1, kappa, calibration table), and
`queries` (the ORM reads). Writes live in labeling.actions.suggestions.
"""
