from django.urls import path

from analytics.api import views

urlpatterns = [
    path("summary/", views.SummaryView.as_view(), name="analytics-summary"),
]
