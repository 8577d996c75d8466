"""Shared pieces of every figure and table: one color per option key, axis and layout defaults. Pure."""

import colorsys
import hashlib

from config.spreadsheet import safe_row

# The same category, detection source or mitigation has the same color on every chart
# (and the category colors are those of static/css/app.css's --cat-* badges).
KEY_COLORS = {
    "inference_engine": "#7c3aed",
    "infrastructure": "#0369a1",
    "model_configuration": "#0f766e",
    "operational": "#b45309",
    "automated": "#15803d",
    "internal_manual": "#a16207",
    "customer_reported": "#b91c1c",
    "hotfix": "#dc2626",
    "rollback": "#7c2d12",
    "traffic_routing": "#2563eb",
    "node_rebalancing": "#0891b2",
    "capacity_increase": "#059669",
    "configuration_change": "#9333ea",
    "self_recovered": "#64748b",
    "upstream_fix": "#ca8a04",
    "sev0": "#991b1b",
    "sev1": "#c2410c",
    "sev2": "#a16207",
    "sev3": "#3f6212",
    "sev4": "#475569",
    "decided": "#15803d",
    "partial": "#ca8a04",
    "undecided": "#94a3b8",
    "category": "#7c3aed",
    "detection": "#15803d",
    "mitigation": "#dc2626",
    "team": "#c2410c",
    "study": "#64748b",
}
NEUTRAL = "#94a3b8"
INK = "#1f2328"
MUTED = "#656d76"
GRID = "#e5e7eb"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
MONTH_AXIS = "Month (impact start)"


def color_for(key, parent_key=None, index=0):
    """The key's own color; a subcategory gets a shade of its parent's; others a stable hashed hue."""
    if key in KEY_COLORS:
        return KEY_COLORS[key]
    if parent_key in KEY_COLORS:
        return shade(KEY_COLORS[parent_key], index)
    hue = int(hashlib.sha256(key.encode()).hexdigest()[:4], 16) / 0xFFFF
    red, green, blue = colorsys.hls_to_rgb(hue, 0.42, 0.55)
    return _hex(red, green, blue)


def shade(color, index):
    """The index-th shade of a color: 0 is the color itself, then lighter and darker in turn."""
    red, green, blue = (int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))
    hue, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    steps = (0.0, 0.14, -0.1, 0.26, 0.36, -0.18, 0.44)
    lightness = min(0.9, max(0.12, lightness + steps[index % len(steps)]))
    return _hex(*colorsys.hls_to_rgb(hue, lightness, saturation))


def _hex(red, green, blue):
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in (red, green, blue))


def layout(title, *, y_title, y_format=None, y_range=None, x_title=MONTH_AXIS, **extra):
    """The layout every chart starts from: its title (PNG exports carry it), labeled axes, legend below."""
    base = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15, "color": INK}},
        "font": {"family": FONT, "size": 12, "color": INK},
        "margin": {"l": 64, "r": 24, "t": 48, "b": 56},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "legend": {"orientation": "h", "x": 0, "y": -0.22, "yanchor": "top"},
        "hovermode": "x unified",
        "xaxis": {"title": {"text": x_title}, "gridcolor": GRID, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "gridcolor": GRID, "zeroline": False, "automargin": True},
        "height": 380,
    }
    if y_format:
        base["yaxis"]["tickformat"] = y_format
    if y_range:
        base["yaxis"]["range"] = y_range
    base.update(extra)
    return base


def figure(data, chart_layout, empty_message=None):
    """A figure dict; with a message over it when there is nothing to draw."""
    result = {"data": data, "layout": chart_layout}
    if empty_message:
        # Axes without data would only show meaningless default ranges.
        for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
            if axis in chart_layout:
                chart_layout[axis]["visible"] = False
        chart_layout["annotations"] = [
            {
                "text": empty_message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": MUTED},
            }
        ]
    return result


def table(header, rows):
    """A chart's CSV table (header, rows), its header guarded against spreadsheet formulas.

    Header cells can carry user text (usernames in the throughput table); the CSV view
    (analytics.views) guards the rows as it writes them.
    """
    return safe_row(header), rows


def reference_line(value, label, *, axis="y"):
    """A dashed horizontal line at a study reference figure, labeled at its right end."""
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": axis,
        "y0": value,
        "y1": value,
        "line": {"color": MUTED, "width": 1.5, "dash": "dash"},
        "label": {"text": label, "textposition": "end", "font": {"size": 11, "color": MUTED}},
    }


def count_bars(months, counts, name, *, axis="y2"):
    """Light bars of how many incidents a monthly rate rests on, on a secondary axis."""
    return {
        "type": "bar",
        "x": months,
        "y": counts,
        "name": name,
        "yaxis": axis,
        "marker": {"color": "#e2e8f0"},
        "hovertemplate": "%{y:,} incidents<extra>" + name + "</extra>",
    }


def secondary_axis(title):
    return {
        "title": {"text": title},
        "tickformat": ",d",
        "tickmode": "auto",
        "overlaying": "y",
        "side": "right",
        "showgrid": False,
        "rangemode": "tozero",
        "automargin": True,
    }


def minutes(seconds):
    return round(seconds / 60, 2) if seconds is not None else None


def is_empty(values):
    return not any(value for value in values if value)
