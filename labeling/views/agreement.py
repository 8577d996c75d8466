"""How alike analysts label: the agreement figures of a taxonomy, dimension by dimension."""

from django.shortcuts import get_object_or_404, render

from accounts.roles import Role, role_required
from labeling.agreement_queries import VALUE_SET_SEPARATOR, list_taxonomy_agreement
from labeling.models import Option, Taxonomy


@role_required(Role.ANALYST, Role.MANAGER, Role.ADMIN)
def agreement_page(request, key):
    """Fleiss' kappa of everyone, then each analyst pair's observed agreement, Cohen's kappa and confusion matrix."""
    taxonomy = get_object_or_404(Taxonomy, key=key, active=True)
    names = dict(Option.objects.filter(dimension__taxonomy=taxonomy).values_list("key", "name"))
    reports = list_taxonomy_agreement(taxonomy)
    for report in reports:
        for pair in report.pairs:
            pair.value_names = [_value_name(value, names) for value in pair.values]
            pair.rows = list(zip(pair.value_names, pair.confusion, strict=True))
    return render(request, "labeling/agreement.html", {"taxonomy": taxonomy, "reports": reports})


def _value_name(value, names):
    """An option's name; a multi-valued answer's names joined (it is one category for kappa)."""
    return " + ".join(names.get(key, key) for key in value.split(VALUE_SET_SEPARATOR))
