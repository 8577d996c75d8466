from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import importers
from incidents.exporters import duration_minutes
from incidents.models import ImportBatch, Incident, IncidentUpdate

_LONG_TEXT = {"max_length": importers.MAX_TEXT_LENGTH}
# Minutes between two times of an incident; null while the later one is unknown.
_MINUTES = serializers.FloatField(allow_null=True)


class NestedIncidentUpdateSerializer(serializers.ModelSerializer):
    class Meta:
        model = IncidentUpdate
        fields = ("id", "stage", "posted_at", "body")


class IncidentUpdateSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:incidents-api:incidentupdate-detail")

    class Meta:
        model = IncidentUpdate
        fields = ("id", "url", "incident", "stage", "posted_at", "body")
        extra_kwargs = {"body": _LONG_TEXT}


class IncidentSerializer(serializers.ModelSerializer):
    """An incident in the API's field names, which the JSON lines and CSV files share."""

    url = serializers.HyperlinkedIdentityField(view_name="api:incidents-api:incident-detail")
    ttd_minutes = serializers.SerializerMethodField(help_text="Time to detect: detected_at - started_at.")
    ttm_minutes = serializers.SerializerMethodField(help_text="Time to mitigate: mitigated_at - started_at.")
    ttr_minutes = serializers.SerializerMethodField(help_text="Time to resolve: resolved_at - started_at.")
    updates = NestedIncidentUpdateSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = (
            "id",
            "url",
            *importers.INCIDENT_FIELDS,
            *importers.DERIVED_FIELDS,
            "updates",
            "created_at",
            "updated_at",
        )
        extra_kwargs = dict.fromkeys(importers.LONG_TEXT_FIELDS, _LONG_TEXT)

    @extend_schema_field(_MINUTES)
    def get_ttd_minutes(self, incident):
        return duration_minutes(incident.time_to_detect)

    @extend_schema_field(_MINUTES)
    def get_ttm_minutes(self, incident):
        return duration_minutes(incident.time_to_mitigate)

    @extend_schema_field(_MINUTES)
    def get_ttr_minutes(self, incident):
        return duration_minutes(incident.time_to_resolve)

    def validate(self, attrs):
        """Refuse times before started_at here, as the database's constraints would."""
        names = ("started_at", *importers.TIME_FIELDS)
        times = {name: attrs.get(name, getattr(self.instance, name, None)) for name in names}
        problems = importers.check_times(times)
        if problems:
            raise serializers.ValidationError(dict(problems))
        return attrs


class ImportBatchSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:incidents-api:importbatch-detail")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ImportBatch
        fields = (
            "id",
            "url",
            "file_name",
            "format",
            "source",
            "size",
            "status",
            "total",
            "created",
            "updated",
            "unchanged",
            "rejected",
            "errors",
            "failure",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    """A file to import: multipart `file`, its `format` and a default `source`."""

    file = serializers.FileField()
    format = serializers.ChoiceField(choices=ImportBatch.Format.choices)
    source = serializers.CharField(
        max_length=importers.MAX_LENGTHS["source"], required=False, allow_blank=True, default=""
    )

    def validate_file(self, upload):
        problem = importers.size_problem(upload.size, settings.IMPORT_MAX_BYTES)
        if problem:
            raise serializers.ValidationError(f"{upload.name}: {problem}.")
        return upload
