import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from incidents.models import Incident
from labeling.choices import AnnotationSource, DecisionMethod

# all-MiniLM-L6-v2 writes 384 numbers; a model of another size needs a migration of its own.
EMBEDDING_DIMENSIONS = 384


class Taxonomy(models.Model):
    """One version of a labeling scheme, such as the four-way failure category study."""

    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    double_label_share = models.FloatField(
        default=0.0, help_text="Share of incidents (0 to 1) that a second analyst labels blind."
    )
    adjudicators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="adjudicated_taxonomies",
        help_text="Analysts who settle disagreements, besides every admin.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key", "-version"]
        verbose_name_plural = "taxonomies"
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="taxonomy_unique_key_version"),
            models.UniqueConstraint(fields=["key"], condition=Q(active=True), name="taxonomy_one_active_version"),
            models.CheckConstraint(
                condition=Q(double_label_share__gte=0) & Q(double_label_share__lte=1),
                name="taxonomy_double_label_share_0_to_1",
            ),
        ]

    def __str__(self):
        return f"{self.name} (v{self.version})"

    def requires_double_labeling(self, incident_id):
        """Whether this incident is in the taxonomy's blind double-labeled share.

        Drawn from a hash of the taxonomy key and incident id, so the draw is stable
        (the same incidents stay in the sample) and needs no stored state.
        """
        if self.double_label_share <= 0:
            return False
        digest = hashlib.sha256(f"{self.key}:{incident_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.double_label_share


class Dimension(models.Model):
    """One question asked of every incident, such as its category or how it was detected."""

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="dimensions")
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    multi = models.BooleanField(default=False, help_text="An incident may take several options.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["taxonomy", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "key"], name="dimension_unique_key_per_taxonomy"),
        ]

    def __str__(self):
        return f"{self.taxonomy.key}.{self.key}"


class Option(models.Model):
    """One answer a dimension allows; a child option refines its parent (a subcategory)."""

    dimension = models.ForeignKey(Dimension, on_delete=models.CASCADE, related_name="options")
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="One sentence; also used for zero-shot suggestions.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["dimension", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dimension", "key"], name="option_unique_key_per_dimension"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="option_not_own_parent"),
        ]

    def __str__(self):
        return self.name

    @property
    def top_level(self):
        """The top-level option this one belongs to (itself when it has no parent)."""
        option = self
        while option.parent_id is not None:
            option = option.parent
        return option


class Annotation(models.Model):
    """One annotator's value for one incident and dimension at one moment.

    A change is a new row that replaces the annotator's current one (`is_current`), so the
    history of every label stays readable.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="annotations")
    dimension = models.ForeignKey(Dimension, on_delete=models.CASCADE, related_name="annotations")
    options = models.ManyToManyField(Option, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="annotations"
    )
    source = models.CharField(max_length=10, choices=AnnotationSource.choices, default=AnnotationSource.HUMAN)
    # An adjudicator's ruling on a disagreement: it sets the decision, and is left out of
    # agreement between the annotators it rules on.
    is_adjudication = models.BooleanField(default=False)
    is_current = models.BooleanField(default=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "dimension", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "dimension", "annotator", "is_adjudication"],
                condition=Q(is_current=True),
                name="annotation_one_current_per_annotator",
            ),
            models.CheckConstraint(
                condition=Q(source=AnnotationSource.MODEL) | Q(annotator__isnull=False),
                name="annotation_human_has_annotator",
            ),
        ]
        indexes = [
            # The labeling queue and agreement: current annotations of a dimension.
            models.Index(fields=["dimension", "incident"], condition=Q(is_current=True), name="annotation_current_idx"),
        ]

    def __str__(self):
        return f"{self.annotator or self.source} on {self.incident_id}/{self.dimension}"


class Suggestion(models.Model):
    """A model-made value for an incident and dimension, with its score and evidence."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="suggestions")
    dimension = models.ForeignKey(Dimension, on_delete=models.CASCADE, related_name="suggestions")
    option = models.ForeignKey(Option, on_delete=models.CASCADE, related_name="suggestions")
    score = models.FloatField()
    model_version = models.CharField(max_length=200)
    # [{"incident": id, "similarity": float}, ...]: the decided incidents that voted for it.
    evidence = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "dimension", "-score"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "option"], name="suggestion_unique_per_option"),
            models.CheckConstraint(condition=Q(score__gte=0) & Q(score__lte=1), name="suggestion_score_0_to_1"),
        ]
        indexes = [
            # The labeling queue orders undecided incidents by their best suggestion's score.
            models.Index(fields=["dimension", "score"], name="suggestion_queue_idx"),
        ]

    def __str__(self):
        return f"{self.option} ({self.score:.2f}) for {self.incident_id}"


class Decision(models.Model):
    """The final value of one incident on one dimension: one row per chosen option.

    A multi-valued dimension (mitigation) has a row per option, so an incident mitigated
    by hotfix and rollback counts in both on the dashboards, which count these rows.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="decisions")
    dimension = models.ForeignKey(Dimension, on_delete=models.CASCADE, related_name="decisions")
    option = models.ForeignKey(Option, on_delete=models.PROTECT, related_name="decisions")
    method = models.CharField(max_length=20, choices=DecisionMethod.choices, default=DecisionMethod.SINGLE)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["incident", "dimension", "option"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "dimension", "option"], name="decision_unique_option"),
        ]
        indexes = [
            # Dashboards: counts per dimension and option.
            models.Index(fields=["dimension", "option"], name="decision_dashboard_idx"),
        ]

    def __str__(self):
        return f"{self.incident_id}: {self.dimension.key} = {self.option.key}"


class Embedding(models.Model):
    """The vector of one incident's text under one embedding model.

    A new model writes new rows beside the old ones, so search keeps working while the
    background re-embedding runs; `text_hash` means unchanged text is never embedded twice.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="embeddings")
    model_name = models.CharField(max_length=200)
    text_hash = models.CharField(max_length=64, help_text="SHA-256 of the exact text embedded.")
    vector = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "model_name"], name="embedding_unique_per_model"),
        ]
        indexes = [
            # labeling.queries similar-incident search: cosine distance, approximate.
            HnswIndex(
                name="embedding_vector_hnsw",
                fields=["vector"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
        ]

    def __str__(self):
        return f"{self.model_name} vector of {self.incident_id}"


class SimilarityFeedback(models.Model):
    """One user's verdict on one similar-search result: useful or not, for later tuning."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="similarity_feedback")
    result = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="similarity_feedback")
    # The search: the incident it started from, or the typed text (kept, and hashed for uniqueness).
    source_incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    query_text = models.TextField(blank=True)
    query_hash = models.CharField(max_length=64)
    useful = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "query_hash", "result"], name="similarityfeedback_one_per_result"),
        ]

    def __str__(self):
        return f"{self.user} found {self.result_id} {'useful' if self.useful else 'not useful'}"


class OptionMapping(models.Model):
    """Where an option of one taxonomy version went in the next: renamed, merged, split or retired.

    Old labels keep pointing at the old version's options (so they stay readable); the
    mapping says which new option carries each of them over. `target` is empty for a
    retired option; `needs_review` marks the guess made for a split.
    """

    source = models.ForeignKey(Option, on_delete=models.CASCADE, related_name="mappings_out")
    target = models.ForeignKey(Option, null=True, blank=True, on_delete=models.CASCADE, related_name="mappings_in")
    change = models.CharField(max_length=20)
    needs_review = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source"], name="optionmapping_one_per_source"),
        ]

    def __str__(self):
        return f"{self.source} → {self.target or 'retired'} ({self.change})"


class SuggestionModel(models.Model):
    """One trained suggestion model of a taxonomy version (labeling.suggestions), as bytes.

    Keyed by what it learned from: the taxonomy version, the embedding model whose vectors
    and weights it builds on, and the decisions (their count, and a digest that changes
    when any of them does). A newer model is a new row; suggestions name the `version`
    that made them.
    """

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="suggestion_models")
    embedding_model = models.CharField(max_length=200)
    decision_count = models.PositiveIntegerField()
    decisions_digest = models.CharField(max_length=64, help_text="SHA-256 of the decisions it was trained on.")
    version = models.CharField(max_length=200, help_text="Stamped on every suggestion it makes.")
    # A pickled labeling.suggestions.Suggester: the tuned top layers (half precision, a few
    # MB per dimension), the classifiers and the calibrations.
    state = models.BinaryField()
    # Held-out figures of its calibration, for the health page and the admin.
    metrics = models.JSONField(default=dict, blank=True)
    training_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["taxonomy", "embedding_model", "decisions_digest"], name="suggestionmodel_unique_training_set"
            ),
        ]
        indexes = [
            # labeling.actions.suggestions.latest_suggestion_model: the newest model of a taxonomy.
            models.Index(fields=["taxonomy", "embedding_model", "-created_at"], name="suggestionmodel_latest_idx"),
        ]

    def __str__(self):
        return self.version
