from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("incidents/", views.drill_down, name="incidents"),
    path("<slug:key>/", views.dashboard, name="dashboard"),
    path("<slug:key>/<slug:chart_key>.csv", views.chart_csv, name="chart-csv"),
]
