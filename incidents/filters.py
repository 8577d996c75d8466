"""One filter set for the incidents list page and the incidents API."""

import django_filters
from django import forms
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F

from incidents.choices import IncidentStatus, Modality, Severity
from incidents.models import Incident


class IncidentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Search")
    service = django_filters.CharFilter(field_name="service", lookup_expr="iexact")
    model_name = django_filters.CharFilter(field_name="model_name", lookup_expr="iexact", label="Model")
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, widget=forms.CheckboxSelectMultiple)
    status = django_filters.ChoiceFilter(choices=IncidentStatus.choices, empty_label="Any status")
    modality = django_filters.ChoiceFilter(choices=Modality.choices, empty_label="Any modality")
    source = django_filters.CharFilter(field_name="source", lookup_expr="exact")
    started_after = django_filters.DateFilter(
        field_name="started_at", lookup_expr="date__gte", label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    started_before = django_filters.DateFilter(
        field_name="started_at", lookup_expr="date__lte", label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = Incident
        fields = ["q", "service", "model_name", "severity", "status", "modality", "source"]

    def filter_text(self, queryset, name, value):
        """Full-text match on the search document, best matches first."""
        query = SearchQuery(value, search_type="websearch", config="english")
        return (
            queryset.filter(search_document=query)
            .annotate(rank=SearchRank(F("search_document"), query))
            .order_by("-rank", "-started_at", "-id")
        )
