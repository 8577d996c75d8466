from django import forms
from django.conf import settings

from incidents import exporters, importers
from incidents.models import ImportBatch


class ImportForm(forms.Form):
    """An incident file to import (the upload page)."""

    file = forms.FileField(label="Incident file")
    format = forms.ChoiceField(choices=ImportBatch.Format.choices, initial=ImportBatch.Format.STATUSPAGE)
    source = forms.CharField(
        max_length=importers.MAX_LENGTHS["source"],
        required=False,
        help_text="For rows that name no source; a status page's name otherwise (openai, anthropic…).",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problem = importers.size_problem(upload.size, settings.IMPORT_MAX_BYTES)
        if problem:
            raise forms.ValidationError(f"{upload.name}: {problem}.")
        return upload


class ExportForm(forms.Form):
    """The file format of an export; the filters come through IncidentFilterSet."""

    format = forms.ChoiceField(choices=[(name, name.upper()) for name in exporters.FORMATS], initial="csv")
