"""Taxonomy pages for admins: settings, option changes as new versions, import and export."""

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import Role, role_required
from labeling.actions import LabelError, create_version, import_taxonomy, update_taxonomy_settings
from labeling.forms import OptionChangeForm, TaxonomyFileForm, TaxonomySettingsForm
from labeling.models import OptionMapping, Taxonomy
from labeling.queries import count_labels_per_option, taxonomy_as_data
from labeling.taxonomy_file import TaxonomyFileError, parse_taxonomy_text

# A taxonomy file is a few kilobytes; anything far larger is not one.
MAX_TAXONOMY_FILE_BYTES = 1024 * 1024


@role_required(Role.ADMIN)
def taxonomy_detail(request, key):
    taxonomy = get_object_or_404(Taxonomy.objects.prefetch_related("dimensions__options"), key=key, active=True)
    settings_form = TaxonomySettingsForm(request.POST or None, instance=taxonomy)
    if request.method == "POST" and settings_form.is_valid():
        update_taxonomy_settings(settings_form, request.user)
        messages.success(request, "Settings saved.")
        return redirect("labeling:taxonomy", key=key)
    versions = Taxonomy.objects.filter(key=key).order_by("-version")
    mappings = OptionMapping.objects.filter(source__dimension__taxonomy__key=key).exclude(change="same")
    context = {
        "taxonomy": taxonomy,
        "settings_form": settings_form,
        "change_form": OptionChangeForm(taxonomy),
        "label_counts": count_labels_per_option(taxonomy),
        "versions": versions,
        "mappings": mappings.select_related("source__dimension__taxonomy", "target").order_by("-pk"),
    }
    return render(request, "labeling/taxonomy.html", context)


@require_POST
@role_required(Role.ADMIN)
def change_option(request, key):
    """Rename, merge, split or retire an option: a new version, with the labels carried over."""
    taxonomy = get_object_or_404(Taxonomy, key=key, active=True)
    form = OptionChangeForm(taxonomy, request.POST)
    if not form.is_valid():
        # Plain text: the page escapes messages, and as_text() would have escaped them already.
        text = " ".join(f"{form[name].label}: {error}" for name, errors in form.errors.items() for error in errors)
        messages.error(request, text)
        return redirect("labeling:taxonomy", key=key)
    dimension_key, option_key = form.cleaned_data["option"].split("/", 1)
    try:
        new = create_version(
            taxonomy,
            form.cleaned_data["change"],
            dimension_key,
            option_key,
            new_key=form.cleaned_data["new_key"],
            new_name=form.cleaned_data["new_name"],
            into_key=form.cleaned_data["into"],
            parts=form.cleaned_data["parts"],
            actor=request.user,
        )
    except LabelError as error:
        messages.error(request, str(error))
        return redirect("labeling:taxonomy", key=key)
    messages.success(request, f"Version {new.version} is active; labels were carried over.")
    return redirect("labeling:taxonomy", key=key)


@role_required(Role.ADMIN)
def taxonomy_upload(request):
    """Create or update a taxonomy from a JSON or YAML file."""
    form = TaxonomyFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            taxonomy = import_taxonomy(_read_taxonomy_upload(upload), actor=request.user)
        except TaxonomyFileError as error:
            form.add_error("file", str(error))
        except LabelError as error:
            form.add_error("file", f"{upload.name}: {error}")
        else:
            messages.success(request, f"Taxonomy {taxonomy.key} imported.")
            return redirect("labeling:taxonomy", key=taxonomy.key)
    return render(request, "labeling/taxonomy_upload.html", {"form": form})


def _read_taxonomy_upload(upload):
    """The checked TaxonomySpec of an uploaded file; TaxonomyFileError says what is wrong with it."""
    if upload.size > MAX_TAXONOMY_FILE_BYTES:
        raise TaxonomyFileError(f"{upload.name}: {upload.size} bytes is over the {MAX_TAXONOMY_FILE_BYTES} limit")
    try:
        text = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        raise TaxonomyFileError(f"{upload.name}: not UTF-8 text") from None
    return parse_taxonomy_text(text, upload.name)


@role_required(Role.ADMIN, Role.ANALYST, Role.MANAGER)
def taxonomy_export(request, key):
    taxonomy = get_object_or_404(Taxonomy, key=key, active=True)
    response = HttpResponse(
        json.dumps(taxonomy_as_data(taxonomy), indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{taxonomy.key}-v{taxonomy.version}.json"'
    return response
