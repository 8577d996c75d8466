"""Denormalized facts behind the dashboards, kept current by analytics.actions.

At a million incidents, counting decisions joined to incidents takes seconds (the incident
rows are wide: postmortems, search documents), while one narrow row per incident scans in a
fraction of that (bench/bench_dashboards.py measures both). These tables are derived data:
analytics.actions.refresh_facts rebuilds any row from the labeling and incident tables, so
losing or dropping them loses nothing.
"""

from django.db import models
from django.db.models import Q

from incidents.models import Incident
from labeling.models import Dimension, Taxonomy


class FilterValue(models.Model):
    """One value of a filterable incident field (service, model, modality, region).

    The fact tables store these small ids instead of the text, which keeps their rows narrow
    (a scan of a million reads half the bytes), and the filter form lists its choices from
    here instead of scanning incidents for distinct values.
    """

    id = models.AutoField(primary_key=True)
    field = models.CharField(max_length=20)
    value = models.CharField(max_length=200)

    class Meta:
        ordering = ["field", "value"]
        constraints = [
            models.UniqueConstraint(fields=["field", "value"], name="filtervalue_unique_field_value"),
        ]

    def __str__(self):
        return f"{self.field}={self.value}"


class FilteredFact(models.Model):
    """The incident fields every fact table repeats, so each filters without a join."""

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="+", db_index=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The day and month impact started, in settings.TIME_ZONE: what the date filters and the
    # monthly buckets use.
    started_on = models.DateField()
    month = models.DateField(help_text="First day of the month of started_on.")
    severity = models.PositiveSmallIntegerField()
    # FilterValue ids of the incident's service, model, modality and region (NULL when blank).
    service_id = models.IntegerField(null=True)
    model_id = models.IntegerField(null=True)
    modality_id = models.IntegerField(null=True)
    region_id = models.IntegerField(null=True)

    class Meta:
        abstract = True


class IncidentFact(FilteredFact):
    """One incident as one taxonomy's dashboards count it: its filters, timings and decided options.

    Option columns hold the decided option ids of the taxonomy's `category`, `detection` and
    `mitigation` dimensions (PRODUCT.md §3); NULL or empty where the incident is undecided.
    """

    # 64-bit: a 32-bit column overflows past 68 years, and one incident with a typo year
    # (mitigated in 2205) would fail the whole refresh batch it belongs to.
    ttd_seconds = models.BigIntegerField(null=True, help_text="Time to detect (detected - started).")
    ttm_seconds = models.BigIntegerField(null=True, help_text="Time to mitigate (mitigated - started).")
    # analytics.stats.duration_bin of the two: box plots count per bin instead of sorting values.
    ttd_bin = models.SmallIntegerField(null=True)
    ttm_bin = models.SmallIntegerField(null=True)
    category_option_id = models.BigIntegerField(null=True, help_text="May be a subcategory.")
    detection_option_id = models.BigIntegerField(null=True)
    # One bit per mitigation option, the option's rank by id in its dimension (bit 0 = lowest
    # id; analytics.queries.scope.DimensionInfo.bit): counting a bit is several times cheaper
    # than searching an array, which matters at a million rows. 0 = undecided.
    mitigation_mask = models.BigIntegerField(default=0)
    decided_dimensions = models.PositiveSmallIntegerField(
        default=0, help_text="Dimensions of the taxonomy with a decision; all of them means decided."
    )

    class Meta:
        constraints = [
            # The upsert of analytics.actions.refresh_facts; leads with incident for the cascade.
            models.UniqueConstraint(fields=["incident", "taxonomy"], name="incidentfact_unique_incident_taxonomy"),
        ]
        indexes = [
            # analytics.queries: a taxonomy's facts in a date range, and its first and last month.
            models.Index(fields=["taxonomy", "month"], name="incidentfact_month_idx"),
        ]

    def __str__(self):
        return f"facts of incident {self.incident_id} under taxonomy {self.taxonomy_id}"


class MonthlyFact(models.Model):
    """How many incidents of one month and severity share one combination of decided options.

    The facts grouped by everything the counting charts read (category, detection,
    mitigation, decided dimensions): at a million incidents some 70,000 rows instead of a
    million, so a chart that needs no finer filter than months and severity reads these.
    Rebuilt per (taxonomy, month) by analytics.actions whenever a fact of that month changes.
    """

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField()
    severity = models.PositiveSmallIntegerField()
    category_option_id = models.BigIntegerField(null=True)
    detection_option_id = models.BigIntegerField(null=True)
    mitigation_mask = models.BigIntegerField(default=0)
    decided_dimensions = models.PositiveSmallIntegerField(default=0)
    incidents = models.PositiveIntegerField()

    class Meta:
        constraints = [
            # Also the index of analytics.queries' month-range reads (it leads with taxonomy, month).
            models.UniqueConstraint(
                fields=[
                    "taxonomy",
                    "month",
                    "severity",
                    "category_option_id",
                    "detection_option_id",
                    "mitigation_mask",
                    "decided_dimensions",
                ],
                name="monthlyfact_unique_cell",
                nulls_distinct=False,
            ),
        ]

    def __str__(self):
        return f"{self.incidents} incidents of {self.month:%Y-%m} under taxonomy {self.taxonomy_id}"


class LabelerFact(FilteredFact):
    """One annotator's work on one incident under one taxonomy: when they first labeled it."""

    annotator_id = models.BigIntegerField()
    labeled_month = models.DateField(help_text="Month of the annotator's first label on the incident.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "taxonomy", "annotator_id"], name="labelerfact_unique_incident_annotator"
            ),
        ]
        indexes = [
            # analytics.queries.labeling: throughput per analyst and month.
            models.Index(fields=["taxonomy", "labeled_month"], name="labelerfact_month_idx"),
        ]

    def __str__(self):
        return f"user {self.annotator_id} labeled incident {self.incident_id}"


class LabelFact(FilteredFact):
    """One incident's human labels on one dimension, where agreement or acceptance can be measured.

    A row exists when a second annotator labeled the incident (an agreement pair) or a model
    suggestion met a human label (an acceptance trial); other labels need no row. A lone
    label still waiting for its blind second annotator has none: whether it took the
    suggestion would tell the second analyst what it is.
    """

    dimension = models.ForeignKey(Dimension, on_delete=models.CASCADE, related_name="+")
    # The current values of the first two annotators (by time of labeling), adjudications
    # excluded, on a single-valued dimension (kappa pairs); NULL on multi-valued ones.
    first_option_id = models.BigIntegerField(null=True)
    second_option_id = models.BigIntegerField(null=True)
    top_suggestion_id = models.BigIntegerField(null=True, help_text="The highest-scored suggested option.")
    top_accepted = models.BooleanField(
        null=True, help_text="Whether the first annotator's value contains the top suggestion."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "dimension"], name="labelfact_unique_incident_dimension"),
        ]
        indexes = [
            # analytics.queries.labeling: agreement pairs of a taxonomy.
            models.Index(
                fields=["taxonomy", "month"], condition=Q(second_option_id__isnull=False), name="labelfact_pairs_idx"
            ),
            # analytics.queries.labeling: acceptance trials of a taxonomy.
            models.Index(
                fields=["taxonomy", "month"], condition=Q(top_suggestion_id__isnull=False), name="labelfact_trials_idx"
            ),
        ]

    def __str__(self):
        return f"labels of incident {self.incident_id} on dimension {self.dimension_id}"


class FactRefreshState(models.Model):
    """Where the periodic refresh stands: the one row analytics.tasks.refresh_dashboard_facts claims.

    `changes_after` and the id watermarks say which recent writes were already folded in;
    `sweep_after_id` is the resume point of the slow full pass that catches anything else
    (a decision deleted, an incident edited).
    """

    name = models.CharField(max_length=40, unique=True)
    incident_id_seen = models.BigIntegerField(default=0)
    annotation_id_seen = models.BigIntegerField(default=0)
    suggestion_id_seen = models.BigIntegerField(default=0)
    changes_after = models.DateTimeField(null=True, blank=True)
    sweep_after_id = models.BigIntegerField(default=0)
    sweeps_completed = models.PositiveIntegerField(default=0)
    # Hash of the taxonomies the facts cover and their mitigation options (whose ranks are
    # the mask bits): when it changes, a new version or an option removed, a full pass starts.
    layout_fingerprint = models.CharField(max_length=64, blank=True)
    # True during a full pass the dashboards wait for (first build, new taxonomy version):
    # the task then continues batch after batch instead of one batch per beat.
    catching_up = models.BooleanField(default=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"fact refresh {self.name}: swept to {self.sweep_after_id}"
