from django.contrib import admin

from incidents.models import ImportBatch, Incident, IncidentUpdate


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


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    """Import batches are written by the import itself; the admin only reads them."""

    list_display = ["pk", "file_name", "format", "source", "status", "created", "updated", "unchanged", "rejected"]
    list_filter = ["status", "format"]
    search_fields = ["file_name", "source"]
    exclude = ["content"]
    readonly_fields = [field.name for field in ImportBatch._meta.fields if field.name != "content"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
