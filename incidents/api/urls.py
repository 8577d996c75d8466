from rest_framework.routers import SimpleRouter

from incidents.api import views

app_name = "incidents-api"

# SimpleRouter: /api/ itself belongs to config.api_urls, not to one app.
router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("incident-updates", views.IncidentUpdateViewSet, basename="incidentupdate")
router.register("import-batches", views.ImportBatchViewSet, basename="importbatch")

urlpatterns = router.urls
