from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsManager
from analytics.api.serializers import SummarySerializer
from analytics.forms import DashboardFilterForm
from analytics.queries import load_layout, summary

SUMMARY_PARAMETERS = [
    OpenApiParameter("taxonomy", OpenApiTypes.STR, description="Taxonomy key (default llm-incidents)."),
    OpenApiParameter("version", OpenApiTypes.INT, description="Taxonomy version (default: the active one)."),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day of impact start, inclusive (see counted_from)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day of impact start, inclusive (see counted_to)."),
    OpenApiParameter("service", OpenApiTypes.STR),
    OpenApiParameter("model", OpenApiTypes.STR),
    OpenApiParameter("modality", OpenApiTypes.STR),
    OpenApiParameter("region", OpenApiTypes.STR),
    OpenApiParameter("severity", OpenApiTypes.INT, many=True, description="0 (highest) to 4; repeatable."),
]


class SummaryView(APIView):
    """The counts behind every dashboard chart, per month: the same numbers as the pages."""

    permission_classes = [IsManager]

    @extend_schema(parameters=SUMMARY_PARAMETERS, responses=SummarySerializer)
    def get(self, request):
        form = DashboardFilterForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        scope, taxonomy = form.scope(), form.chosen_taxonomy
        if scope is None:
            raise ValidationError({"taxonomy": [{"message": "No taxonomy exists yet.", "code": "missing"}]})
        data = summary(scope, load_layout(scope.taxonomy_id))
        filters = {name: value for name, value in form.cleaned_data.items() if value and name != "taxonomy_object"}
        counted_from, counted_to = form.counted_period() or (None, None)
        payload = {
            "taxonomy": {"key": taxonomy.key, "name": taxonomy.name, "version": taxonomy.version},
            "filters": {name: str(value) if not isinstance(value, list) else value for name, value in filters.items()},
            "counted_from": counted_from,
            "counted_to": counted_to,
            "truncated": scope.truncated,
            **data,
        }
        return Response(SummarySerializer(payload).data)
