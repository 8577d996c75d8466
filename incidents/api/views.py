import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from accounts.permissions import IsAdmin, ReadOrAdminWrite
from incidents import actions, imports
from incidents.api.serializers import (
    ImportBatchSerializer,
    ImportUploadSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
)
from incidents.filters import IncidentFilterSet
from incidents.models import IncidentUpdate
from incidents.queries import incidents_visible_to


class ApiPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class IncidentApiFilterSet(IncidentFilterSet):
    """The incidents page's filters, plus `search`: the API's name for the ranked text search `q`."""

    search = django_filters.CharFilter(method="filter_text", label="Search")

    class Meta(IncidentFilterSet.Meta):
        fields = [*IncidentFilterSet.Meta.fields, "search"]


class IncidentViewSet(viewsets.ModelViewSet):
    """Incidents with their timelines: every role reads, admins write."""

    serializer_class = IncidentSerializer
    permission_classes = [ReadOrAdminWrite]
    filterset_class = IncidentApiFilterSet
    pagination_class = ApiPagination

    def get_queryset(self):
        return incidents_visible_to(self.request.user).prefetch_related("updates")

    def perform_create(self, serializer):
        serializer.instance = actions.create_incident(serializer.validated_data, self.request.user)

    def perform_update(self, serializer):
        serializer.instance = actions.update_incident(serializer.instance, serializer.validated_data, self.request.user)

    def perform_destroy(self, instance):
        actions.delete_incident(instance, self.request.user)


class IncidentUpdateViewSet(viewsets.ModelViewSet):
    """Timeline entries of incidents: every role reads, admins write."""

    serializer_class = IncidentUpdateSerializer
    permission_classes = [ReadOrAdminWrite]
    filterset_fields = ["incident", "stage"]
    pagination_class = ApiPagination

    def get_queryset(self):
        visible = incidents_visible_to(self.request.user)
        return IncidentUpdate.objects.filter(incident__in=visible).order_by("incident_id", "posted_at", "id")

    def perform_create(self, serializer):
        serializer.instance = actions.add_incident_update(serializer.validated_data, self.request.user)

    def perform_update(self, serializer):
        serializer.instance = actions.change_incident_update(
            serializer.instance, serializer.validated_data, self.request.user
        )

    def perform_destroy(self, instance):
        actions.delete_incident_update(instance, self.request.user)


class ImportBatchViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Import jobs: admins upload a file (multipart) and follow its batch until it is done."""

    permission_classes = [IsAdmin]
    serializer_class = ImportBatchSerializer
    pagination_class = ApiPagination
    filterset_fields = ["status", "format", "source"]

    def get_queryset(self):
        return imports.list_import_batches()

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses={202: ImportBatchSerializer})
    def create(self, request, *args, **kwargs):
        """Store the file and queue its import; the answer is the waiting batch."""
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        batch = imports.create_import_batch(
            file_name=upload.validated_data["file"].name,
            content=upload.validated_data["file"].read(),
            fmt=upload.validated_data["format"],
            source=upload.validated_data["source"],
            user=request.user,
        )
        imports.enqueue_import_batch(batch)
        data = self.get_serializer(batch).data
        # str(): the URL is DRF's Hyperlink, a str subclass, and PEP 3333 servers (wsgiref,
        # runserver) refuse header values that are not exactly str.
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": str(data["url"])})
