from django.contrib import admin

from incidents.models import Incident, IncidentUpdate


class IncidentUpdateInline(admin.TabularInline):
    model = IncidentUpdate
    extra = 0


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "external_id", "severity", "status", "service", "started_at"]
    list_filter = ["severity", "status", "source", "modality"]
    search_fields = ["title", "external_id", "service", "model_name"]
    date_hierarchy = "started_at"
    inlines = [IncidentUpdateInline]


@admin.register(IncidentUpdate)
class IncidentUpdateAdmin(admin.ModelAdmin):
    list_display = ["incident", "stage", "posted_at"]
    list_filter = ["stage"]
    raw_id_fields = ["incident"]
