from django import forms


class SimilarSearchForm(forms.Form):
    q = forms.CharField(
        label="Symptom or error message",
        max_length=5000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "e.g. requests to the chat model time out after 60 s"}),
    )
