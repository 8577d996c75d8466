from django.urls import path

from labeling.views import overview, similar

app_name = "labeling"

urlpatterns = [
    path("", overview.label_home, name="home"),
    path("health/", overview.health, name="health"),
    path("similar/", similar.similar, name="similar"),
    path("similar/feedback/", similar.similarity_feedback, name="similarity-feedback"),
    path("incidents/<int:pk>/similar/", similar.incident_similar, name="incident-similar"),
    path("incidents/<int:pk>/labels/", overview.incident_labels, name="incident-labels"),
]
