"""Template filters of the dashboards."""

from django import template

register = template.Library()


@register.filter
def percent(value, digits=0):
    """0.2792 -> "28%" (digits=0) or "27.9%" (digits=1); blank for None."""
    if value is None or value == "":
        return ""
    return f"{float(value) * 100:.{int(digits)}f}%"
