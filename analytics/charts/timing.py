"""Box plots and percentile trends of time to detect and time to mitigate. Pure."""

from analytics.charts.base import MUTED, color_for, count_bars, figure, layout, minutes, secondary_axis, table

NO_DURATIONS = "No incidents with this duration in this period"
BOX_NOTE = "Box: p25 to p75, line at the median; whiskers at p10 and p90"
# Minutes span 1 to 1,000+: a log axis labeled at 1, 2, 5, 10, 20, 50... in plain numbers.
_TICKS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]
LOG_AXIS = {"type": "log", "tickvals": _TICKS, "ticktext": [f"{tick:g}" for tick in _TICKS]}


def _box_trace(group, *, axis="x", yaxis="y"):
    """One precomputed box (plotly draws the numbers given, no raw points travel to the page)."""
    stats = group["box"]
    return {
        "type": "box",
        "name": group["name"],
        "x": [group["name"]],
        "xaxis": axis,
        "yaxis": yaxis,
        "q1": [minutes(stats["p25"])],
        "median": [minutes(stats["p50"])],
        "q3": [minutes(stats["p75"])],
        "lowerfence": [minutes(stats["p10"])],
        "upperfence": [minutes(stats["p90"])],
        "marker": {"color": color_for(group["key"])},
        "line": {"width": 1.5},
        "boxpoints": False,
        "showlegend": False,
        "hoverinfo": "y+name",
    }


def duration_boxes(data):
    """Boxes by top-level category (left) and by severity (right), minutes on a log axis."""
    traces = [_box_trace(group) for group in data["categories"] if group["box"]]
    traces += [_box_trace(group, axis="x2") for group in data["severities"] if group["box"]]
    y_title = f"{data['label']} (minutes, log scale)"
    chart = layout(
        f"{data['label']} by category and severity",
        y_title=y_title,
        x_title="Category",
        hovermode="closest",
        xaxis2={"title": {"text": "Severity"}, "domain": [0.64, 1], "anchor": "y"},
    )
    chart["xaxis"]["domain"] = [0, 0.6]
    chart["yaxis"].update(LOG_AXIS)
    chart["annotations"] = [_note(BOX_NOTE)]
    return figure(traces, chart, None if traces else NO_DURATIONS)


def mitigation_boxes(data):
    """Time to mitigate per mitigation type; an incident mitigated two ways is in both boxes."""
    traces = [_box_trace(group) for group in data["groups"] if group["box"]]
    chart = layout(
        "Time to mitigate by mitigation type",
        y_title="Time to mitigate (minutes, log scale)",
        x_title="Mitigation",
        hovermode="closest",
    )
    chart["yaxis"].update(LOG_AXIS)
    chart["annotations"] = [_note(BOX_NOTE)]
    return figure(traces, chart, None if traces else NO_DURATIONS)


def duration_trend(data):
    """p50 and p90 per month (lines, minutes) over the number of incidents measured (bars)."""
    color = color_for("traffic_routing" if data["metric"] == "ttd" else "hotfix")
    traces = [count_bars(data["months"], data["n"], "Incidents measured")]
    for key, name, dash in (("p50", "Median (p50)", "solid"), ("p90", "p90", "dot")):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": data["months"],
                "y": [minutes(value) for value in data[key]],
                "line": {"color": color, "dash": dash, "width": 2.5},
                "hovertemplate": "%{y:,.1f} min<extra>" + name + "</extra>",
            }
        )
    chart = layout(
        f"{data['label']} per month: median and p90",
        y_title=f"{data['label']} (minutes)",
        yaxis2=secondary_axis("Incidents measured"),
    )
    chart["yaxis"]["rangemode"] = "tozero"
    return figure(traces, chart, None if any(data["n"]) else NO_DURATIONS)


def _note(text):
    return {
        "text": text,
        "showarrow": False,
        "xref": "paper",
        "yref": "paper",
        "x": 1,
        "y": 1.02,
        "xanchor": "right",
        "yanchor": "bottom",
        "font": {"size": 11, "color": MUTED},
    }


def boxes_table(groups):
    """CSV rows of box numbers: group, n and percentiles in minutes."""
    header = ["group", "n", "p10_min", "p25_min", "median_min", "p75_min", "p90_min"]
    rows = []
    for group in groups:
        stats = group["box"] or {}
        rows.append(
            [
                group["name"],
                stats.get("n", 0),
                *(minutes(stats.get(key)) for key in ("p10", "p25", "p50", "p75", "p90")),
            ]
        )
    return table(header, rows)


def trend_table(data):
    header = ["month", "n", "median_min", "p90_min"]
    rows = [
        [month, n, minutes(p50), minutes(p90)]
        for month, n, p50, p90 in zip(data["months"], data["n"], data["p50"], data["p90"], strict=True)
    ]
    return table(header, rows)
