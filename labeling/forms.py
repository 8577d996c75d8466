from django import forms

from incidents.choices import Severity

MAX_SIMILAR_RESULTS = 50


class SimilarFilterForm(forms.Form):
    """Filters and size of a similar-incident search; shared by the pages and the API."""

    k = forms.IntegerField(min_value=1, max_value=MAX_SIMILAR_RESULTS, required=False, initial=10)
    service = forms.CharField(max_length=200, required=False)
    model_name = forms.CharField(max_length=200, required=False, label="Model")
    severity = forms.TypedMultipleChoiceField(choices=Severity.choices, coerce=int, required=False)
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
