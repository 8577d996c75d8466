"""Taxonomies, labels, suggestions and embeddings, shown read-only in the admin.

An admin edit would skip the rules the app keeps (a decision's option is one of its dimension's,
a decision follows its annotations, an option renamed is a new taxonomy version) and the audit
log. They change where both are kept: the taxonomy pages and `import_taxonomy` (taxonomies and
options, as new versions), the labeling screen, adjudication and `import_labels` (annotations
and decisions), `suggest_labels` and `embed_incidents` (suggestions and embeddings).
"""

from django.contrib import admin

from accounts.admin import ReadOnlyAdminMixin
from labeling.models import Annotation, Decision, Dimension, Embedding, Option, Suggestion, Taxonomy


class DimensionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Dimension
    extra = 0


class OptionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Option
    extra = 0
    fk_name = "dimension"


@admin.register(Taxonomy)
class TaxonomyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["key", "name", "version", "active", "double_label_share"]
    list_filter = ["active"]
    inlines = [DimensionInline]


@admin.register(Dimension)
class DimensionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["key", "name", "taxonomy", "multi", "order"]
    list_filter = ["taxonomy"]
    inlines = [OptionInline]


@admin.register(Option)
class OptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["key", "name", "dimension", "parent", "order"]
    list_filter = ["dimension__taxonomy", "dimension"]
    search_fields = ["key", "name", "description"]


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "dimension", "annotator", "source", "is_current", "created_at"]
    list_filter = ["source", "is_current", "dimension"]
    raw_id_fields = ["incident", "replaces"]


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "dimension", "option", "score", "model_version", "created_at"]
    list_filter = ["dimension", "model_version"]
    raw_id_fields = ["incident"]


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "dimension", "option", "method", "decided_by", "decided_at"]
    list_filter = ["method", "dimension"]
    raw_id_fields = ["incident"]


@admin.register(Embedding)
class EmbeddingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "model_name", "text_hash", "created_at", "updated_at"]
    list_filter = ["model_name"]
    raw_id_fields = ["incident"]
    exclude = ["vector"]
