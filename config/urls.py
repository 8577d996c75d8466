from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="incidents:list", permanent=False), name="home"),
    path("accounts/", include("accounts.urls")),
    path("incidents/", include("incidents.urls")),
    path("label/", include("labeling.urls")),
    path("dashboards/", include("analytics.urls")),
    path("admin/", admin.site.urls),
    path("api/", include(("config.api_urls", "api"), namespace="api")),
]
