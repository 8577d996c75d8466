from django import forms


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="What is it for?", widget=forms.TextInput(attrs={"placeholder": "CI import job"})
    )


class AuditFilterForm(forms.Form):
    target_type = forms.CharField(max_length=60, required=False, label="Kind")
    actor = forms.CharField(max_length=150, required=False, label="Who")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
