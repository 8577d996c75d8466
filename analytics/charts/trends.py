"""Figures of monthly shares and rates: category, detection, mitigation, hotfix, automation. Pure."""

from analytics.charts.base import (
    color_for,
    count_bars,
    figure,
    is_empty,
    layout,
    reference_line,
    secondary_axis,
    table,
)

NO_DECISIONS = "No decided incidents in this period"


def share_bars(frame, title, *, mode="share", parent_key=None):
    """Stacked bars per month, one trace per series: shares of the decided incidents, or counts.

    Each bar carries [series key, month start] as customdata: a click opens the incidents behind it.
    """
    share = mode == "share"
    data = []
    for index, item in enumerate(frame["series"]):
        custom = [
            [item["key"], start, count, whole]
            for start, count, whole in zip(frame["month_starts"], item["counts"], frame["decided"], strict=True)
        ]
        data.append(
            {
                "type": "bar",
                "name": item["name"],
                "x": frame["months"],
                "y": item["shares"] if share else item["counts"],
                "marker": {"color": color_for(item["key"], parent_key, index)},
                "customdata": custom,
                "hovertemplate": "%{fullData.name}: "
                + ("%{y:.1%}" if share else "%{y:,}")
                + " (%{customdata[2]:,} of %{customdata[3]:,})<extra></extra>",
            }
        )
    y_title = "Share of decided incidents" if share else "Decided incidents"
    chart = layout(
        title,
        y_title=y_title,
        y_format=".0%" if share else ",d",
        y_range=[0, 1] if share else None,
        barmode="stack",
        # Beside the plot, top of the legend at the top of the stack: many series fit.
        legend={"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top"},
    )
    return figure(data, chart, None if frame["decided_total"] else NO_DECISIONS)


def rate_line(frame, title, *, rates, name, color, reference=None, counts_name="Decided incidents", y_title=None):
    """A monthly rate (line, left axis) over the count of incidents it rests on (bars, right axis)."""
    data = [
        count_bars(frame["months"], frame["decided"], counts_name),
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": frame["months"],
            "y": rates,
            "line": {"color": color, "width": 2.5},
            "marker": {"size": 6},
            "connectgaps": False,
            "hovertemplate": "%{y:.1%}<extra>" + name + "</extra>",
        },
    ]
    chart = layout(
        title, y_title=y_title or name, y_format=".0%", y_range=[0, 1.05], yaxis2=secondary_axis(counts_name)
    )
    if reference is not None:
        chart["shapes"] = [reference_line(reference[0], reference[1])]
    return figure(data, chart, None if frame["decided_total"] else NO_DECISIONS)


def detection_rate(frame):
    return rate_line(
        frame,
        "Auto-detection rate per month",
        rates=frame["rate"],
        name="Auto-detected",
        color=color_for("automated"),
        reference=(0.74, "Study: 74%"),
    )


def detection_mix(frame):
    return share_bars(frame, "Detection source per month")


def mitigation_mix(frame):
    """Stacked counts: an incident mitigated two ways counts in both stacks, so bars may exceed n."""
    chart = share_bars(frame, "Mitigation type per month", mode="count")
    chart["layout"]["yaxis"]["title"]["text"] = "Incidents per mitigation (multi-valued)"
    return chart


def hotfix_rate(frame):
    return rate_line(
        frame,
        "Hotfix rate per month",
        rates=frame["hotfix_rate"],
        name="Mitigated by hotfix",
        color=color_for("hotfix"),
        reference=(0.28, "Study: 28%"),
    )


def automation_rate(frame):
    """Share mitigated by operational actions (the line's name lists them: the hover and PNG show it)."""
    names = ", ".join(key.replace("_", " ") for key in frame["automation_keys"]) or "none in this taxonomy"
    return rate_line(
        frame,
        "Automation opportunity per month",
        rates=frame["automation_rate"],
        name=f"Mitigated by {names}",
        color=color_for("traffic_routing"),
        y_title="Mitigated by operational actions",
    )


def share_table(frame):
    """CSV rows of a share chart: month, decided, undecided, then count and share per series."""
    header = ["month", "decided", "undecided"]
    for item in frame["series"]:
        header += [f"{item['key']}_count", f"{item['key']}_share"]
    rows = []
    for index, month in enumerate(frame["months"]):
        row = [month, frame["decided"][index], frame["undecided"][index]]
        for item in frame["series"]:
            row += [item["counts"][index], _ratio(item["shares"][index])]
        rows.append(row)
    return table(header, rows)


def rate_table(frame, rates, name):
    header = ["month", "decided", name]
    rows = [
        [month, decided, _ratio(value)]
        for month, decided, value in zip(frame["months"], frame["decided"], rates, strict=True)
    ]
    return table(header, rows)


def _ratio(value):
    return "" if value is None else round(value, 4)


def has_data(frame):
    return not is_empty(frame["decided"])
