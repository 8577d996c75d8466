from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import ExpressionWrapper, F, Q
from django.urls import reverse

from incidents.choices import IncidentStatus, Modality, Severity, UpdateStage


class IncidentQuerySet(models.QuerySet):
    def with_durations(self):
        """Annotate time to detect, mitigate and resolve, for lists, exports and dashboards."""
        duration = models.DurationField()
        return self.annotate(
            ttd=ExpressionWrapper(F("detected_at") - F("started_at"), output_field=duration),
            ttm=ExpressionWrapper(F("mitigated_at") - F("started_at"), output_field=duration),
            ttr=ExpressionWrapper(F("resolved_at") - F("started_at"), output_field=duration),
        )


class Incident(models.Model):
    """One incident of a service: what happened, when, and its postmortem."""

    source = models.CharField(max_length=64, help_text="Where the record came from: a team, a status page, 'manual'.")
    external_id = models.CharField(max_length=255, help_text="The incident's id in its source.")
    title = models.CharField(max_length=500)
    summary = models.TextField(blank=True)
    postmortem = models.TextField(blank=True, help_text="Markdown; rendered sanitized.")
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.SEV2)
    status = models.CharField(max_length=20, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING)
    service = models.CharField(max_length=200, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    modality = models.CharField(max_length=20, choices=Modality.choices, blank=True)
    region = models.CharField(max_length=100, blank=True)
    endpoint = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(help_text="When impact started.")
    detected_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    customer_impact = models.TextField(blank=True)
    # SHA-256 of the record as last imported (incidents.importers.records.content_hash): an import
    # of the same content leaves the row alone and counts it "unchanged". Blank for rows
    # written by hand, so the next import of such a row rewrites it.
    content_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    # Full-text document over title, summary, postmortem and timeline; kept current by
    # incidents.actions.refresh_search_documents, read by incidents.queries.search_incidents.
    search_document = SearchVectorField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="incident_unique_source_external_id"),
            models.CheckConstraint(condition=Q(severity__lte=4), name="incident_severity_0_to_4"),
            models.CheckConstraint(condition=~Q(title=""), name="incident_title_not_empty"),
            models.CheckConstraint(
                condition=Q(detected_at__isnull=True) | Q(detected_at__gte=F("started_at")),
                name="incident_detected_after_start",
            ),
            models.CheckConstraint(
                condition=Q(mitigated_at__isnull=True) | Q(mitigated_at__gte=F("started_at")),
                name="incident_mitigated_after_start",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("started_at")),
                name="incident_resolved_after_start",
            ),
        ]
        indexes = [
            # The incidents list and the dashboards: newest first, by time range.
            models.Index(fields=["-started_at", "-id"], name="incident_started_idx"),
            # List filters and dashboard filters on service and model.
            models.Index(fields=["service", "-started_at"], name="incident_service_idx"),
            models.Index(fields=["model_name", "-started_at"], name="incident_model_idx"),
            # analytics.tasks.refresh_dashboard_facts reads incidents edited since its last run.
            models.Index(fields=["updated_at"], name="incident_updated_idx"),
            # incidents.queries.search_incidents
            GinIndex(fields=["search_document"], name="incident_search_gin"),
        ]

    def __str__(self):
        return f"{self.source}/{self.external_id}: {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:detail", args=[self.pk])

    @property
    def time_to_detect(self):
        return self.detected_at - self.started_at if self.detected_at else None

    @property
    def time_to_mitigate(self):
        return self.mitigated_at - self.started_at if self.mitigated_at else None

    @property
    def time_to_resolve(self):
        return self.resolved_at - self.started_at if self.resolved_at else None


class IncidentUpdate(models.Model):
    """One timeline entry of an incident: a status-page update or an internal note."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    stage = models.CharField(max_length=20, choices=UpdateStage.choices)
    posted_at = models.DateTimeField()
    body = models.TextField(blank=True)

    class Meta:
        ordering = ["posted_at", "id"]
        indexes = [
            # The incident detail timeline and search document build.
            models.Index(fields=["incident", "posted_at"], name="incidentupdate_timeline_idx"),
        ]

    def __str__(self):
        return f"{self.get_stage_display()} at {self.posted_at:%Y-%m-%d %H:%M}"


class ImportBatch(models.Model):
    """One file of incidents to import: its content until done, its progress and its outcome.

    The uploaded bytes live in `content` (a bytea column), so a worker on any machine can
    read them; they are cleared once the batch has finished.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Format(models.TextChoices):
        JSONL = "jsonl", "JSON lines (API field names)"
        CSV = "csv", "CSV (header of API field names)"
        STATUSPAGE = "statuspage", "Statuspage incidents JSON"

    file_name = models.CharField(max_length=255)
    format = models.CharField(max_length=20, choices=Format.choices)
    source = models.CharField(max_length=64, blank=True, help_text="Source for rows that name none.")
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes in the file.")
    content = models.BinaryField(default=b"", editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total = models.PositiveIntegerField(default=0, help_text="Rows in the file, good and bad.")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # The first incidents.imports.MAX_STORED_ERRORS of [{"position", "field", "reason"}].
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, help_text="Why the whole file was refused.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_batches"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Touched after every chunk; a running batch whose heartbeat is old lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "import batches"

    def __str__(self):
        return f"Import #{self.pk} of {self.file_name} ({self.get_status_display()})"

    def get_absolute_url(self):
        return reverse("incidents:import-batch", args=[self.pk])

    @property
    def is_finished(self):
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def processed(self):
        """Rows dealt with so far, rejected ones included."""
        return self.created + self.updated + self.unchanged + self.rejected

    @property
    def percent(self):
        if self.is_finished:
            return 100
        return int(100 * self.processed / self.total) if self.total else 0
