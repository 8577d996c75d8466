"""Everything under /api/: each app's API, the OpenAPI schema and its browsable docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include("labeling.api.urls")),
    path("", include("incidents.api.urls")),
    path("analytics/", include("analytics.api.urls")),
]
