from django import forms
from django.contrib.auth import get_user_model

from accounts.roles import Role
from incidents.choices import Severity
from incidents.filters import IncidentFilterSet
from labeling.actions.taxonomy_versions import Change
from labeling.models import Option, Taxonomy
from labeling.queue import QueueOrder
from labeling.taxonomy_file import is_key

MAX_SIMILAR_RESULTS = 50


def _list_filter_field(name):
    """A new form field made as the incident list makes it for its filter `name` (same choices and checks)."""
    list_filter = IncidentFilterSet.base_filters[name]
    return list_filter.field_class(**list_filter.extra)


class SimilarFilterForm(forms.Form):
    """Filters and size of a similar-incident search; shared by the pages and the API.

    The incident list's filters (PRODUCT.md §4), which labeling.similarity.filter_incidents
    applies as the list does, plus the ones only a search has: k, decided_only, category.
    """

    k = forms.IntegerField(min_value=1, max_value=MAX_SIMILAR_RESULTS, required=False, initial=10)
    service = forms.CharField(max_length=200, required=False)
    model_name = forms.CharField(max_length=200, required=False, label="Model")
    severity = forms.TypedMultipleChoiceField(choices=Severity.choices, coerce=int, required=False)
    status = _list_filter_field("status")
    modality = _list_filter_field("modality")
    source = _list_filter_field("source")
    started_after = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    started_before = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    decided_only = forms.BooleanField(required=False, label="Only labeled incidents")
    category = forms.SlugField(max_length=64, required=False)

    def search_filters(self):
        data = dict(self.cleaned_data)
        data.pop("q", None)
        data["k"] = data.get("k") or 10
        return data


class SimilarTextForm(SimilarFilterForm):
    """A typed symptom or error message plus the filters."""

    q = forms.CharField(
        label="Symptom or error message",
        max_length=5000,
        strip=True,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "e.g. requests to the chat model time out after 60 s", "autofocus": True}
        ),
    )

    field_order = ["q"]


class SimilarityFeedbackForm(forms.Form):
    result = forms.IntegerField(min_value=1)
    source_incident = forms.IntegerField(min_value=1, required=False)
    query_text = forms.CharField(max_length=5000, required=False)
    useful = forms.TypedChoiceField(choices=[("1", "useful"), ("0", "not useful")], coerce=lambda value: value == "1")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("source_incident") and not cleaned.get("query_text"):
            raise forms.ValidationError("Say which search the result came from: source_incident or query_text.")
        return cleaned


class QueueFilterForm(forms.Form):
    """Which incidents the labeling queue offers, and in which order."""

    order = forms.ChoiceField(choices=QueueOrder.CHOICES, required=False)
    service = forms.CharField(max_length=200, required=False)
    severity = forms.TypedChoiceField(
        choices=[("", "Any"), *Severity.choices], coerce=int, required=False, empty_value=None
    )
    started_after = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    started_before = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    incident = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class AnnotationForm(forms.Form):
    """One value per dimension of a taxonomy; options are named by key."""

    def __init__(self, taxonomy, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dimensions = list(taxonomy.dimensions.prefetch_related("options"))
        for dimension in self.dimensions:
            choices = [(option.key, option.name) for option in dimension.options.all()]
            field_class = forms.MultipleChoiceField if dimension.multi else forms.ChoiceField
            self.fields[dimension.key] = field_class(choices=choices, required=False, label=dimension.name)

    def clean(self):
        cleaned = super().clean()
        if not any(cleaned.get(dimension.key) for dimension in self.dimensions):
            raise forms.ValidationError("Choose a value for at least one dimension, or skip the incident.")
        return cleaned

    def chosen_options(self):
        """[(dimension, [Option])] for every dimension given a value."""
        chosen = []
        for dimension in self.dimensions:
            keys = self.cleaned_data.get(dimension.key) or []
            keys = [keys] if isinstance(keys, str) else keys
            if keys:
                options = {option.key: option for option in dimension.options.all()}
                chosen.append((dimension, [options[key] for key in keys]))
        return chosen


class BulkApplyForm(forms.Form):
    """One value to apply to several similar incidents; `incidents` are those the analyst kept."""

    dimension = forms.SlugField(max_length=64)
    option = forms.SlugField(max_length=64)
    count = forms.IntegerField(min_value=1, max_value=MAX_SIMILAR_RESULTS, required=False)
    incidents = forms.CharField(required=False)

    def clean_incidents(self):
        # Checked boxes arrive as repeated values; only their ids matter here.
        values = self.data.getlist("incidents") if hasattr(self.data, "getlist") else []
        try:
            return [int(value) for value in values]
        except ValueError:
            raise forms.ValidationError("Incidents must be ids.") from None


class TaxonomySettingsForm(forms.ModelForm):
    """Settings that change no label: the double-labeled share and the adjudicators."""

    class Meta:
        model = Taxonomy
        fields = ["description", "double_label_share", "adjudicators"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2}), "adjudicators": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["adjudicators"].queryset = (
            get_user_model().objects.filter(groups__name=Role.ANALYST).order_by("username")
        )


def validate_option_key(value):
    """Refuse a key the taxonomy importer would refuse, so a key made here survives export and re-import."""
    if not is_key(value):
        raise forms.ValidationError(f"{value!r} is not a key (lower-case letters, digits, '_' or '-')")


class OptionChangeForm(forms.Form):
    """One change to an option that makes a new taxonomy version (labels carried over)."""

    option = forms.ChoiceField(label="Option")
    change = forms.ChoiceField(choices=[choice for choice in Change.choices if choice[0] != Change.SAME])
    new_key = forms.CharField(max_length=64, required=False, validators=[validate_option_key], label="New key (rename)")
    new_name = forms.CharField(max_length=200, required=False, label="New name (rename)")
    into = forms.SlugField(max_length=64, required=False, label="Merge into (option key)")
    parts = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "key | name | description, one part per line"}),
        label="Split into",
    )

    def __init__(self, taxonomy, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["option"].choices = [
            (f"{option.dimension.key}/{option.key}", f"{option.dimension.name}: {option.name}")
            for option in Option.objects.filter(dimension__taxonomy=taxonomy).select_related("dimension")
        ]

    def clean_parts(self):
        parts = []
        for number, line in enumerate(self.cleaned_data["parts"].splitlines(), start=1):
            if not line.strip():
                continue
            fields = [field.strip() for field in line.split("|")]
            if len(fields) < 2 or not fields[0] or not fields[1]:
                raise forms.ValidationError(f"Line {number}: write 'key | name | description'.")
            try:
                validate_option_key(fields[0])
            except forms.ValidationError as error:
                raise forms.ValidationError(f"Line {number}: {error.messages[0]}") from None
            parts.append((fields[0], fields[1], fields[2] if len(fields) > 2 else ""))
        return parts

    def clean(self):
        cleaned = super().clean()
        change = cleaned.get("change")
        # A key or part that failed its own check is missing here and has said why already.
        if change == Change.RENAME and "new_key" in cleaned and not (cleaned["new_key"] or cleaned.get("new_name")):
            self.add_error("new_name", "A rename needs a new key or a new name.")
        if change == Change.MERGE and not cleaned.get("into"):
            self.add_error("into", "Say which option to merge into.")
        if change == Change.SPLIT and "parts" in cleaned and len(cleaned["parts"]) < 2:
            self.add_error("parts", "A split needs at least two parts.")
        return cleaned


class TaxonomyFileForm(forms.Form):
    file = forms.FileField(help_text="JSON or YAML in the import_taxonomy format.")
