from rest_framework import serializers


class SimilarIncidentSerializer(serializers.Serializer):
    """One similar-search result: the incident, how close, why, and what mitigated it."""

    id = serializers.IntegerField(source="incident.pk")
    source = serializers.CharField(source="incident.source")
    external_id = serializers.CharField(source="incident.external_id")
    title = serializers.CharField(source="incident.title")
    service = serializers.CharField(source="incident.service")
    model_name = serializers.CharField(source="incident.model_name")
    severity = serializers.IntegerField(source="incident.severity")
    started_at = serializers.DateTimeField(source="incident.started_at")
    time_to_mitigate_seconds = serializers.SerializerMethodField()
    score = serializers.FloatField(help_text="Reciprocal-rank-fusion score of vector and full-text ranks.")
    similarity = serializers.FloatField(allow_null=True, help_text="Cosine similarity of the embeddings.")
    shared_terms = serializers.ListField(child=serializers.CharField())
    matching_fields = serializers.ListField(child=serializers.CharField())
    labels = serializers.SerializerMethodField()

    def get_time_to_mitigate_seconds(self, result) -> float | None:
        ttm = result.incident.time_to_mitigate
        return ttm.total_seconds() if ttm is not None else None

    def get_labels(self, result) -> dict[str, list[dict]]:
        """{dimension: [{key, name, parent}]}: plain dicts, as a nested serializer per result and
        dimension (about 30 a response) cost more Python time than the rest of the response."""
        return {
            key: [
                {"key": option.key, "name": option.name, "parent": option.parent.key if option.parent_id else None}
                for option in options
            ]
            for key, options in result.labels.items()
        }


class SimilarityFeedbackSerializer(serializers.Serializer):
    result = serializers.IntegerField(min_value=1)
    source_incident = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    query_text = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    useful = serializers.BooleanField()

    def validate(self, attrs):
        if not attrs.get("source_incident") and not attrs.get("query_text"):
            raise serializers.ValidationError("Say which search the result came from: source_incident or query_text.")
        return attrs
