"""Figures of labeling health and of the study comparison. Pure."""

from analytics import metrics
from analytics.charts.base import color_for, figure, layout, reference_line, table
from analytics.charts.trends import _ratio

NO_LABELS = "No labels in this period"


def decided(data):
    """Stacked bars per month: decided on every dimension, on some, on none."""
    parts = (("decided", "Decided (every dimension)"), ("partial", "Partly decided"), ("undecided", "Undecided"))
    traces = [
        {
            "type": "bar",
            "name": name,
            "x": data["months"],
            "y": data[key],
            "marker": {"color": color_for(key)},
            "hovertemplate": "%{y:,}<extra>" + name + "</extra>",
        }
        for key, name in parts
    ]
    chart = layout("Decided and undecided incidents per month", y_title="Incidents", y_format=",d", barmode="stack")
    return figure(traces, chart, None if any(data["totals"].values()) else "No incidents in this period")


def acceptance_by_dimension(data):
    """How often analysts confirmed the top suggestion, per dimension, with the number of trials."""
    rows = [row for row in data["dimensions"] if row["trials"]]
    trace = {
        "type": "bar",
        "x": [row["name"] for row in rows],
        "y": [row["rate"] for row in rows],
        "text": [f"{row['rate']:.0%} of {row['trials']:,}" for row in rows],
        "textposition": "outside",
        "marker": {"color": color_for("automated")},
        "name": "Accepted",
        "hovertemplate": "%{x}: %{y:.1%}<extra></extra>",
    }
    chart = layout(
        "Suggestion acceptance by dimension",
        y_title="Top suggestion confirmed",
        y_format=".0%",
        y_range=[0, 1.1],
        x_title="Dimension",
        hovermode="closest",
    )
    return figure([trace] if rows else [], chart, None if rows else "No suggestions met a human label yet")


def acceptance_by_option(data):
    """Acceptance per suggested option (horizontal bars), colored by the option's key."""
    rows = sorted(data["options"], key=lambda row: (row["dimension"], row["rate"] or 0))
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": [f"{row['name']} ({row['dimension']})" for row in rows],
        "x": [row["rate"] for row in rows],
        "text": [f"{row['accepted']:,}/{row['trials']:,}" for row in rows],
        "textposition": "outside",
        "cliponaxis": False,
        "marker": {"color": [color_for(row["key"], row.get("parent"), row.get("shade", 0)) for row in rows]},
        "hovertemplate": "%{y}: %{x:.1%}<extra></extra>",
        "name": "Accepted",
    }
    chart = layout(
        "Suggestion acceptance by suggested option",
        y_title="Suggested option",
        x_title="Top suggestion confirmed",
        hovermode="closest",
        height=max(320, 28 * len(rows) + 120),
    )
    chart["xaxis"].update(tickformat=".0%", range=[0, 1.2], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1.0])
    chart["margin"]["r"] = 72
    chart["margin"]["l"] = 220
    return figure([trace] if rows else [], chart, None if rows else "No suggestions met a human label yet")


def agreement(data):
    """Cohen's kappa per single-valued dimension per month, beside the study's 0.89."""
    traces = []
    for item in data["series"]:
        custom = [[pairs] for pairs in item["pairs"]]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"{item['name']} (κ {_fmt(item['kappa_total'])}, {item['pairs_total']:,} pairs)",
                "x": data["months"],
                "y": item["kappa"],
                "customdata": custom,
                "line": {"color": color_for(item["key"]), "width": 2.5},
                "hovertemplate": "κ %{y:.2f} over %{customdata[0]:,} pairs<extra>" + item["name"] + "</extra>",
            }
        )
    chart = layout(
        "Agreement between analysts (Cohen's kappa) per month",
        y_title="Cohen's kappa",
        y_range=[0, 1.05],
        shapes=[reference_line(0.89, "Study: κ 0.89")],
    )
    empty = not any(item["pairs_total"] for item in data["series"])
    return figure(traces, chart, "No double-labeled incidents in this period" if empty else None)


def throughput(data):
    """Incidents each analyst labeled per month (people-level: not for every role)."""
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": item["name"],
            "x": data["months"],
            "y": item["counts"],
            "hovertemplate": "%{y:,} incidents<extra>" + item["name"] + "</extra>",
        }
        for item in data["series"]
    ]
    chart = layout(
        "Analyst throughput: incidents labeled per month",
        y_title="Incidents labeled",
        y_format=",d",
        x_title="Month labeled",
    )
    return figure(traces, chart, None if traces else NO_LABELS)


def study(data):
    """The team's shares and kappa beside the study's; hatched study bars come from secondary summaries."""
    rows = [row for row in data["rows"] if row["kind"] != "count"][::-1]  # first figure on top
    labels = [row["label"] for row in rows]
    team = {
        "type": "bar",
        "orientation": "h",
        "name": "This team",
        "y": labels,
        "x": [row["team"] for row in rows],
        "marker": {"color": color_for("team")},
        "customdata": [[row["n"]] for row in rows],
        "hovertemplate": "%{x:.2f} (n %{customdata[0]:,})<extra>This team</extra>",
    }
    patterns = ["/" if row["source"] == metrics.SECONDARY else "" for row in rows]
    reference = {
        "type": "bar",
        "orientation": "h",
        "name": f"Study ({metrics.PAPER}); hatched: secondary summary",
        "y": labels,
        "x": [row["study"] for row in rows],
        "marker": {"color": color_for("study"), "pattern": {"shape": patterns}},
        "customdata": [[row["source"]] for row in rows],
        "hovertemplate": "%{x:.2f} (%{customdata[0]})<extra>Study</extra>",
    }
    chart = layout(
        "This team beside the study",
        y_title="",
        x_title="Share of incidents (Cohen's kappa for the agreement row)",
        barmode="group",
        hovermode="closest",
        height=120 + 52 * len(rows),
        legend={"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "traceorder": "normal"},
    )
    chart["xaxis"].update(range=[0, 1.05], tickformat=".0%")
    chart["margin"].update(l=300, t=72)
    return figure([team, reference], chart)


def _fmt(value):
    return "n/a" if value is None else f"{value:.2f}"


def study_table(data):
    header = ["figure", "team", "n", "study", "study_source"]
    rows = [
        [
            row["label"],
            _ratio(row["team"]) if row["kind"] != "count" else row["team"],
            row["n"],
            row["study"],
            row["source"],
        ]
        for row in data["rows"]
    ]
    return table(header, rows)


def decided_table(data):
    header = ["month", "decided", "partly_decided", "undecided"]
    rows = [list(row) for row in zip(data["months"], data["decided"], data["partial"], data["undecided"], strict=True)]
    return table(header, rows)


def acceptance_table(data):
    header = ["level", "dimension", "option", "accepted", "trials", "rate"]
    rows = [
        ["dimension", row["name"], "", row["accepted"], row["trials"], _ratio(row["rate"])]
        for row in data["dimensions"]
    ]
    rows += [
        ["option", row["dimension"], row["name"], row["accepted"], row["trials"], _ratio(row["rate"])]
        for row in data["options"]
    ]
    return table(header, rows)


def agreement_table(data):
    header = ["month"]
    for item in data["series"]:
        header += [f"{item['key']}_kappa", f"{item['key']}_pairs"]
    rows = []
    for index, month in enumerate(data["months"]):
        row = [month]
        for item in data["series"]:
            row += [_ratio(item["kappa"][index]), item["pairs"][index]]
        rows.append(row)
    return table(header, rows)


def throughput_table(data):
    header = ["month", *(item["name"] for item in data["series"])]
    rows = [[month, *(item["counts"][index] for item in data["series"])] for index, month in enumerate(data["months"])]
    return table(header, rows)
