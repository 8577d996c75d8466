from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsReader
from config.openapi import ERROR_DETAIL
from incidents.choices import IncidentStatus, Modality
from incidents.queries import get_incident_for_user
from labeling.actions import record_similarity_feedback
from labeling.api.serializers import SimilarIncidentSerializer, SimilarityFeedbackSerializer
from labeling.forms import SimilarFilterForm, SimilarTextForm
from labeling.similarity import find_similar, find_similar_to_incident

FILTER_PARAMETERS = [
    OpenApiParameter("k", OpenApiTypes.INT, description="Number of results (1-50, default 10)."),
    OpenApiParameter("service", OpenApiTypes.STR, description="Ignores case, as the incident list does."),
    OpenApiParameter("model_name", OpenApiTypes.STR, description="Ignores case, as the incident list does."),
    OpenApiParameter("severity", OpenApiTypes.INT, many=True, description="0 (highest) to 4; repeatable."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=IncidentStatus.values),
    OpenApiParameter("modality", OpenApiTypes.STR, enum=Modality.values),
    OpenApiParameter("source", OpenApiTypes.STR),
    OpenApiParameter("started_after", OpenApiTypes.DATE),
    OpenApiParameter("started_before", OpenApiTypes.DATE),
    OpenApiParameter("decided_only", OpenApiTypes.BOOL, description="Only incidents with a decision."),
    OpenApiParameter("category", OpenApiTypes.STR, description="Category option key; includes its subcategories."),
]


def _validated(form_class, request):
    form = form_class(request.query_params)
    if not form.is_valid():
        raise ValidationError(form.errors.get_json_data())
    filters = form.search_filters()
    return form, filters.pop("k"), filters


class SimilarToIncidentView(APIView):
    """Past incidents most similar to this one, with why they matched and what mitigated them."""

    permission_classes = [IsReader]

    @extend_schema(parameters=FILTER_PARAMETERS, responses=SimilarIncidentSerializer(many=True))
    def get(self, request, pk):
        incident = get_incident_for_user(request.user, pk)
        _, k, filters = _validated(SimilarFilterForm, request)
        results = find_similar_to_incident(request.user, incident, filters=filters, k=k)
        return Response(SimilarIncidentSerializer(results, many=True).data)


class SimilarToTextView(APIView):
    """Past incidents most similar to a symptom or error message."""

    permission_classes = [IsReader]

    @extend_schema(
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, required=True), *FILTER_PARAMETERS],
        responses=SimilarIncidentSerializer(many=True),
    )
    def get(self, request):
        form, k, filters = _validated(SimilarTextForm, request)
        results = find_similar(request.user, text=form.cleaned_data["q"], filters=filters, k=k)
        return Response(SimilarIncidentSerializer(results, many=True).data)


class SimilarityFeedbackView(APIView):
    """Mark one result of a search useful or not useful."""

    permission_classes = [IsReader]

    @extend_schema(
        request=SimilarityFeedbackSerializer,
        responses={
            201: SimilarityFeedbackSerializer,
            404: OpenApiResponse(ERROR_DETAIL, description="The result or source incident is not there."),
        },
    )
    def post(self, request):
        serializer = SimilarityFeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = get_incident_for_user(request.user, data["result"])
        source = get_incident_for_user(request.user, data["source_incident"]) if data.get("source_incident") else None
        record_similarity_feedback(request.user, result, data["useful"], source, data.get("query_text", ""))
        return Response(serializer.data, status=status.HTTP_201_CREATED)
