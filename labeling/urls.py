from django.urls import path

from labeling import views

app_name = "labeling"

urlpatterns = [
    path("", views.label_home, name="home"),
    path("health/", views.health, name="health"),
    path("similar/", views.similar, name="similar"),
    path("similar/feedback/", views.similarity_feedback, name="similarity-feedback"),
    path("incidents/<int:pk>/similar/", views.incident_similar, name="incident-similar"),
    path("incidents/<int:pk>/labels/", views.incident_labels, name="incident-labels"),
]
