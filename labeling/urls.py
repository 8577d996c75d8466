from django.urls import path

from labeling import views

app_name = "labeling"

urlpatterns = [
    path("", views.label_home, name="home"),
    path("similar/", views.similar, name="similar"),
    path("incidents/<int:pk>/labels/", views.incident_labels, name="incident-labels"),
]
