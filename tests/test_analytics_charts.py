"""The pure parts: percentiles from binned durations, kappa from counts, and every figure plotly accepts."""

import math
import random
import statistics

import plotly.graph_objects as go
import pytest

from analytics import stats
from analytics.charts import color_for
from analytics.charts import labeling as labeling_charts
from analytics.charts import timing as timing_charts
from analytics.charts import trends as trend_charts
from labeling.agreement import cohen_kappa


def bins_of(values):
    """(count, sum) per duration bin, as the facts' SQL groups them."""
    grouped = {}
    for value in values:
        count, total = grouped.get(stats.duration_bin(value), (0, 0))
        grouped[stats.duration_bin(value)] = (count + 1, total + value)
    return list(grouped.values())


def percentile_cont(values, p):
    ordered = sorted(values)
    rank = p * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@pytest.mark.parametrize("values", [[600], [120, 240], [120, 240, 360, 480], [60, 60, 600, 3600, 7200]])
def test_quantiles_of_distinct_whole_minutes_are_exact(values):
    expected = [percentile_cont(values, p) for p in stats.BOX_QUANTILES]
    assert stats.quantiles(bins_of(values)) == pytest.approx(expected)


def test_quantiles_of_many_values_stay_within_the_bin_width():
    rng = random.Random(7)
    values = [round(60 * rng.lognormvariate(3, 1)) for _ in range(5000)]
    for got, p in zip(stats.quantiles(bins_of(values)), stats.BOX_QUANTILES, strict=True):
        assert got == pytest.approx(percentile_cont(values, p), rel=0.021)
    assert stats.quantiles(bins_of(values))[2] == pytest.approx(statistics.median(values), rel=0.021)


def test_box_of_nothing_is_none_and_rates_of_nothing_are_none():
    assert stats.box([]) is None
    assert stats.rate(3, 0) is None
    assert stats.quantiles([]) == [None] * 5


def test_kappa_from_counts_is_cohens_kappa_of_the_pairs():
    counts = {("a", "a"): 20, ("a", "b"): 5, ("b", "a"): 10, ("b", "b"): 15}
    pairs = [pair for pair, count in counts.items() for _ in range(count)]
    assert stats.kappa_from_counts(counts) == pytest.approx(cohen_kappa(pairs))
    assert stats.kappa_from_counts({}) is None


def frame(series_keys=("inference_engine", "infrastructure"), decided=(3, 0, 2)):
    months = ["2025-01", "2025-02", "2025-03"]
    return {
        "months": months,
        "month_starts": [f"{month}-01" for month in months],
        "series": [
            {"key": key, "name": key.title(), "counts": [1, 0, 1], "shares": [1 / 3, None, 0.5], "total": 2}
            for key in series_keys
        ],
        "decided": list(decided),
        "undecided": [1, 0, 0],
        "decided_total": sum(decided),
        "undecided_total": 1,
        "rate": [0.5, None, 1.0],
        "hotfix_rate": [0.5, None, 1.0],
        "automation_rate": [0.5, None, 1.0],
        "automation_keys": ["traffic_routing"],
        "parent": None,
    }


BOX = {"p10": 60, "p25": 120, "p50": 240, "p75": 480, "p90": 960, "n": 4}
FIGURES = {
    "share": lambda: trend_charts.share_bars(frame(), "Category share"),
    "counts": lambda: trend_charts.share_bars(frame(), "Category share", mode="count"),
    "detection": lambda: trend_charts.detection_rate(frame(("automated",))),
    "hotfix": lambda: trend_charts.hotfix_rate(frame(("hotfix",))),
    "automation": lambda: trend_charts.automation_rate(frame(("traffic_routing",))),
    "mitigation": lambda: trend_charts.mitigation_mix(frame(("hotfix", "rollback"))),
    "boxes": lambda: timing_charts.duration_boxes(
        {
            "metric": "ttd",
            "label": "Time to detect",
            "categories": [{"key": "inference_engine", "name": "Inference engine", "box": BOX}],
            "severities": [{"key": "sev1", "name": "SEV1", "box": BOX}, {"key": "sev2", "name": "SEV2", "box": None}],
        }
    ),
    "mitigation_boxes": lambda: timing_charts.mitigation_boxes(
        {"groups": [{"key": "hotfix", "name": "Hotfix", "box": BOX}]}
    ),
    "trend": lambda: timing_charts.duration_trend(
        {
            "metric": "ttm",
            "label": "Time to mitigate",
            "months": ["2025-01", "2025-02"],
            "p50": [600, None],
            "p90": [1200, None],
            "n": [3, 0],
        }
    ),
    "decided": lambda: labeling_charts.decided(
        {
            "months": ["2025-01"],
            "decided": [3],
            "partial": [0],
            "undecided": [1],
            "totals": {"decided": 3, "partial": 0, "undecided": 1},
        }
    ),
    "acceptance": lambda: labeling_charts.acceptance_by_dimension(
        {
            "dimensions": [
                {
                    "key": "category",
                    "name": "Category",
                    "dimension": "Category",
                    "accepted": 1,
                    "trials": 2,
                    "rate": 0.5,
                }
            ],
            "options": [],
        }
    ),
    "agreement": lambda: labeling_charts.agreement(
        {
            "months": ["2025-01"],
            "series": [
                {
                    "key": "category",
                    "name": "Category",
                    "kappa": [0.5],
                    "pairs": [3],
                    "kappa_total": 0.5,
                    "pairs_total": 3,
                }
            ],
        }
    ),
    "throughput": lambda: labeling_charts.throughput(
        {"months": ["2025-01"], "series": [{"key": "alice", "name": "alice", "counts": [3], "total": 3}]}
    ),
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_is_valid_plotly_with_a_title_and_labeled_axes(name):
    chart = FIGURES[name]()
    go.Figure(chart)  # raises on any property plotly does not know
    assert chart["layout"]["title"]["text"]
    assert chart["layout"]["yaxis"]["title"]["text"] or chart["layout"]["xaxis"]["title"]["text"]
    assert chart["layout"]["xaxis"]["title"]["text"]


def test_a_figure_without_decisions_says_so_and_hides_its_axes():
    chart = trend_charts.share_bars(frame(decided=(0, 0, 0)), "Category share")
    assert chart["layout"]["annotations"][0]["text"] == "No decided incidents in this period"
    assert chart["layout"]["yaxis"]["visible"] is False


def test_study_figure_hatches_the_figures_of_secondary_summaries():
    data = {
        "rows": [
            {
                "key": "inference_engine",
                "label": "Inference engine share",
                "kind": "share",
                "team": 0.6,
                "n": 5,
                "study": 0.6,
                "source": "paper abstract",
            },
            {
                "key": "infrastructure",
                "label": "Infrastructure share",
                "kind": "share",
                "team": 0.2,
                "n": 5,
                "study": 0.2,
                "source": "secondary summary",
            },
        ]
    }
    chart = labeling_charts.study(data)
    go.Figure(chart)
    assert chart["data"][1]["marker"]["pattern"]["shape"] == ["/", ""]  # listed bottom-up


def test_subcategories_get_shades_of_their_category_and_unknown_keys_a_stable_color():
    assert color_for("timeout", "inference_engine", 0) == color_for("inference_engine")
    assert color_for("crash", "inference_engine", 1) != color_for("inference_engine")
    assert color_for("brand-new-option") == color_for("brand-new-option")


def test_tables_are_rows_of_the_chart_data():
    header, rows = trend_charts.share_table(frame())
    assert header[:5] == ["month", "decided", "undecided", "inference_engine_count", "inference_engine_share"]
    assert rows[1] == ["2025-02", 0, 0, 0, "", 0, ""]
    header, rows = timing_charts.boxes_table([{"name": "Hotfix", "box": BOX}, {"name": "Rollback", "box": None}])
    assert rows == [["Hotfix", 4, 1.0, 2.0, 4.0, 8.0, 16.0], ["Rollback", 0, None, None, None, None, None]]


@pytest.mark.parametrize(
    ("name", "written"),
    [("@evil", "'@evil"), ("-2+3", "'-2+3"), ("=HYPERLINK(1)", "'=HYPERLINK(1)"), ("alice", "alice")],
)
def test_throughput_table_header_is_guarded_against_spreadsheet_formulas(name, written):
    # given: an analyst whose username a spreadsheet would run as a formula
    data = {"months": ["2025-01"], "series": [{"key": name, "name": name, "counts": [3], "total": 3}]}
    # when
    header, rows = labeling_charts.throughput_table(data)
    # then
    assert header == ["month", written]
    assert rows == [["2025-01", 3]]
