from rest_framework import serializers

from analytics.queries.scope import MAX_MONTHS


class SummaryTaxonomySerializer(serializers.Serializer):
    key = serializers.SlugField()
    name = serializers.CharField()
    version = serializers.IntegerField()


class SummaryMonthSerializer(serializers.Serializer):
    """The counts behind every trend chart for one month (PRODUCT.md §4)."""

    month = serializers.CharField(help_text="YYYY-MM of impact start.")
    incidents = serializers.IntegerField()
    decided = serializers.IntegerField(help_text="Incidents with a category decision.")
    undecided = serializers.IntegerField()
    category = serializers.DictField(child=serializers.IntegerField(), help_text="Incidents per top-level category.")
    category_share = serializers.DictField(child=serializers.FloatField(allow_null=True))
    detection_decided = serializers.IntegerField()
    detection = serializers.DictField(child=serializers.IntegerField())
    auto_detection_rate = serializers.FloatField(allow_null=True)
    mitigation_decided = serializers.IntegerField()
    mitigation = serializers.DictField(
        child=serializers.IntegerField(), help_text="Incidents per mitigation; one with two counts in both."
    )
    hotfix_rate = serializers.FloatField(allow_null=True)
    automation_rate = serializers.FloatField(allow_null=True, help_text="Share mitigated by operational actions.")


class SummaryTotalsSerializer(serializers.Serializer):
    incidents = serializers.IntegerField()
    decided = serializers.IntegerField()
    category = serializers.DictField(child=serializers.IntegerField())
    auto_detection_rate = serializers.FloatField(allow_null=True)
    hotfix_rate = serializers.FloatField(allow_null=True)
    automation_rate = serializers.FloatField(allow_null=True)
    mitigation = serializers.DictField(child=serializers.IntegerField())


class SummarySerializer(serializers.Serializer):
    taxonomy = SummaryTaxonomySerializer()
    filters = serializers.DictField(child=serializers.JSONField())
    counted_from = serializers.DateField(
        allow_null=True, help_text="First day counted: `from`, or later where the incidents start later."
    )
    counted_to = serializers.DateField(
        allow_null=True, help_text="Last day counted: `to`, or earlier where the incidents end earlier."
    )
    truncated = serializers.BooleanField(
        help_text=f"The period had more than {MAX_MONTHS} months with incidents: only the most recent are counted."
    )
    months = SummaryMonthSerializer(many=True)
    totals = SummaryTotalsSerializer()
