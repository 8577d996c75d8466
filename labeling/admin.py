from django.contrib import admin

from labeling.models import Annotation, Decision, Dimension, Embedding, Option, Suggestion, Taxonomy


class DimensionInline(admin.TabularInline):
    model = Dimension
    extra = 0


class OptionInline(admin.TabularInline):
    model = Option
    extra = 0
    fk_name = "dimension"


@admin.register(Taxonomy)
class TaxonomyAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "version", "active", "double_label_share"]
    list_filter = ["active"]
    inlines = [DimensionInline]


@admin.register(Dimension)
class DimensionAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "taxonomy", "multi", "order"]
    list_filter = ["taxonomy"]
    inlines = [OptionInline]


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "dimension", "parent", "order"]
    list_filter = ["dimension__taxonomy", "dimension"]
    search_fields = ["key", "name", "description"]


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ["incident", "dimension", "annotator", "source", "is_current", "created_at"]
    list_filter = ["source", "is_current", "dimension"]
    raw_id_fields = ["incident", "replaces"]


@admin.register(Suggestion)
class SuggestionAdmin(admin.ModelAdmin):
    list_display = ["incident", "dimension", "option", "score", "model_version", "created_at"]
    list_filter = ["dimension", "model_version"]
    raw_id_fields = ["incident"]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["incident", "dimension", "option", "method", "decided_by", "decided_at"]
    list_filter = ["method", "dimension"]
    raw_id_fields = ["incident"]


@admin.register(Embedding)
class EmbeddingAdmin(admin.ModelAdmin):
    list_display = ["incident", "model_name", "text_hash", "created_at", "updated_at"]
    list_filter = ["model_name"]
    raw_id_fields = ["incident"]
    exclude = ["vector"]
