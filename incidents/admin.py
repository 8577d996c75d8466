"""Incidents, their timelines and import batches, shown read-only in the admin.

An admin edit would skip what the app's actions do on every change: refresh the search document
and write the audit log. Incidents and timelines change through the incidents API
(`incidents.actions`) and imports (the import page, `import_incidents`), which write the batches.
"""

from django.contrib import admin

from accounts.admin import ReadOnlyAdminMixin
from incidents.models import ImportBatch, Incident, IncidentUpdate


class IncidentUpdateInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = IncidentUpdate
    extra = 0


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["title", "source", "external_id", "severity", "status", "service", "started_at"]
    list_filter = ["severity", "status", "source", "modality"]
    search_fields = ["title", "external_id", "service", "model_name"]
    date_hierarchy = "started_at"
    inlines = [IncidentUpdateInline]


@admin.register(IncidentUpdate)
class IncidentUpdateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "stage", "posted_at"]
    list_filter = ["stage"]
    raw_id_fields = ["incident"]


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["pk", "file_name", "format", "source", "status", "created", "updated", "unchanged", "rejected"]
    list_filter = ["status", "format"]
    search_fields = ["file_name", "source"]
    exclude = ["content"]

    def get_queryset(self, request):
        # The uploaded file can be megabytes; no admin page shows it.
        return super().get_queryset(request).defer("content")
