from django.urls import path

from labeling.api import views

app_name = "labeling-api"

urlpatterns = [
    path("incidents/<int:pk>/similar/", views.SimilarToIncidentView.as_view(), name="incident-similar"),
    path("similar/", views.SimilarToTextView.as_view(), name="similar"),
    path("similar/feedback/", views.SimilarityFeedbackView.as_view(), name="similarity-feedback"),
]
