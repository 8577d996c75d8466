"""The dashboard filters (shared by every dashboard, the CSV exports and the summary API) and chart options."""

from django import forms

from analytics.models import FilterValue
from analytics.queries import Scope
from analytics.queries.scope import MAX_MONTHS, counted_scope
from incidents.choices import Modality, Severity
from labeling.models import Taxonomy

# The URL names of the filters: a dashboard URL is a shareable view, and the summary API
# takes the same names (PRODUCT.md §4: taxonomy, from, to).
FILTER_NAMES = ("taxonomy", "version", "from", "to", "service", "model", "modality", "region", "severity")
DEFAULT_TAXONOMY = "llm-incidents"


def _date_field(label):
    return forms.DateField(required=False, label=label, widget=forms.DateInput(attrs={"type": "date"}))


class DashboardFilterForm(forms.Form):
    """Which incidents every chart counts; `scope()` turns the cleaned form into a queries.Scope.

    Choices come from the taxonomies and analytics.FilterValue (two queries), so a value the
    data never had is refused rather than silently matching nothing.
    """

    taxonomy = forms.ChoiceField(required=False)
    version = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Version")
    service = forms.ChoiceField(required=False)
    model = forms.ChoiceField(required=False)
    modality = forms.ChoiceField(required=False, choices=[("", "Any modality"), *Modality.choices])
    region = forms.ChoiceField(required=False)
    severity = forms.TypedMultipleChoiceField(
        required=False, coerce=int, choices=Severity.choices, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        # "from" and "to" are Python keywords, so they cannot be class attributes.
        self.fields["from"] = _date_field("From")
        self.fields["to"] = _date_field("To")
        self.order_fields(FILTER_NAMES)
        self._taxonomies = list(
            Taxonomy.objects.filter(dimensions__isnull=False).distinct().order_by("key", "-version")
        )
        self._values = {}
        for pk, field, value in FilterValue.objects.values_list("pk", "field", "value"):
            self._values.setdefault(field, {})[value] = pk
        self._set_choices()

    def _set_choices(self):
        keys = sorted({taxonomy.key for taxonomy in self._taxonomies})
        self.fields["taxonomy"].choices = [(key, key) for key in keys]
        self.fields["taxonomy"].initial = DEFAULT_TAXONOMY if DEFAULT_TAXONOMY in keys else (keys or [""])[0]
        versions = sorted({taxonomy.version for taxonomy in self._taxonomies}, reverse=True)
        self.fields["version"].choices = [("", "Active"), *((v, f"v{v}") for v in versions)]
        for name, field, empty in (
            ("service", "service", "Any service"),
            ("model", "model_name", "Any model"),
            ("region", "region", "Any region"),
        ):
            self.fields[name].choices = [("", empty), *((v, v) for v in sorted(self._values.get(field, {})))]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            # Under "to": the summary API answers {"to": [...]}, naming the parameter to change.
            self.add_error("to", "The start date is after the end date.")
        cleaned["taxonomy_object"] = self._pick_taxonomy(cleaned.get("taxonomy"), cleaned.get("version"))
        return cleaned

    def _pick_taxonomy(self, key, version):
        key = key or self.fields["taxonomy"].initial
        candidates = [taxonomy for taxonomy in self._taxonomies if taxonomy.key == key]
        if version is not None:
            picked = next((taxonomy for taxonomy in candidates if taxonomy.version == version), None)
        else:
            active = [taxonomy for taxonomy in candidates if taxonomy.active]
            picked = (active or candidates or [None])[0]
        if picked is None and self._taxonomies:
            raise forms.ValidationError(f"Taxonomy {key!r} has no version {version}.")
        return picked

    @property
    def chosen_taxonomy(self):
        """The Taxonomy version the charts count by (valid forms only)."""
        return self.cleaned_data.get("taxonomy_object")

    def scope(self):
        """The queries.Scope of a valid form, narrowed to the period counted (None without any taxonomy).

        Read once per form: the page's subtitle asks again for the period (active_filters).
        """
        if not hasattr(self, "_scope"):
            self._scope = None if self.chosen_taxonomy is None else counted_scope(self._requested_scope())
        return self._scope

    def counted_period(self):
        """(first day, last day) every chart of a valid form counts; None when it counts no day."""
        scope = self.scope()
        if scope is None or scope.date_from is None or scope.date_from > scope.date_to:
            return None
        return scope.date_from, scope.date_to

    def _requested_scope(self):
        data = self.cleaned_data
        return Scope(
            taxonomy_id=self.chosen_taxonomy.pk,
            date_from=data.get("from"),
            date_to=data.get("to"),
            service=self._code("service", data.get("service")),
            model=self._code("model_name", data.get("model")),
            modality=self._code("modality", data.get("modality")),
            region=self._code("region", data.get("region")),
            severities=tuple(sorted(data.get("severity") or ())),
        )

    def _code(self, field, value):
        """The FilterValue id of a chosen value; -1 (matching nothing) for one never seen."""
        if not value:
            return None
        return self._values.get(field, {}).get(value, -1)

    def active_filters(self):
        """(label, value) of every filter set and the period counted, for the page's subtitle and the printable page."""
        data = self.cleaned_data
        shown = []
        for name in ("from", "to", "service", "model", "modality", "region"):
            if data.get(name):
                shown.append((self.fields[name].label or name.title(), str(data[name])))
        if data.get("severity"):
            shown.append(("Severity", ", ".join(f"SEV{value}" for value in sorted(data["severity"]))))
        period = self.counted_period() if self.is_valid() else None
        if period:
            shown.append(("Counted", self._period_text(*period)))
        return shown

    def _period_text(self, first, last):
        text = f"{first} to {last}"
        if self.scope().truncated:
            text += f" (the most recent {MAX_MONTHS // 12} years with incidents; older ones are left out)"
        return text


class DashboardOptionsForm(forms.Form):
    """How the charts are drawn: shares or counts, the category drilled into, the printable layout."""

    mode = forms.ChoiceField(required=False, choices=[("share", "Share"), ("count", "Count")])
    category = forms.SlugField(required=False, max_length=64)
    print = forms.BooleanField(required=False)

    def clean_mode(self):
        return self.cleaned_data.get("mode") or "share"


class DrillDownForm(forms.Form):
    """The bar a user clicked: a month and, optionally, one option of one dimension."""

    month = forms.DateField(required=False, input_formats=["%Y-%m", "%Y-%m-%d"])
    dimension = forms.SlugField(required=False, max_length=64)
    option = forms.SlugField(required=False, max_length=64)
