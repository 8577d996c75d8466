"""The dashboards, their charts and who sees them: the one table the views, exports and bench read.

A chart names the dataset it draws (a function of analytics.queries, computed once per
request even when two charts share it), the figure builder and the CSV table of
analytics.charts, and, for people-level figures, the roles allowed beyond the dashboard's.
"""

from dataclasses import dataclass, field

from accounts.roles import Role, has_role
from analytics import metrics, queries
from analytics.charts import labeling as labeling_charts
from analytics.charts import timing as timing_charts
from analytics.charts import trends as trend_charts

MANAGERS = (Role.MANAGER, Role.ADMIN)
LABELING_HEALTH = (Role.ANALYST, Role.MANAGER, Role.ADMIN)
# Figures about individual people (analyst throughput): never on-call engineers.
PEOPLE_ROLES = (Role.ANALYST, Role.MANAGER, Role.ADMIN)


def _categories(context):
    return queries.category_share(context.scope, context.layout, context.options.get("category"))


DATASETS = {
    "categories": _categories,
    "engine": lambda c: queries.category_share(c.scope, c.layout, metrics.INFERENCE_ENGINE, metrics.TIMEOUT),
    "detection": lambda c: queries.detection_share(c.scope, c.layout),
    "mitigation": lambda c: queries.mitigation_share(c.scope, c.layout),
    "ttm_by_mitigation": lambda c: queries.ttm_by_mitigation(c.scope, c.layout),
    "ttd_boxes": lambda c: queries.duration_boxes(c.scope, c.layout, "ttd"),
    "ttm_boxes": lambda c: queries.duration_boxes(c.scope, c.layout, "ttm"),
    "ttd_trend": lambda c: queries.duration_trend(c.scope, "ttd"),
    "ttm_trend": lambda c: queries.duration_trend(c.scope, "ttm"),
    "study": lambda c: queries.study_comparison(c.scope, c.layout),
    "decided": lambda c: queries.decided_by_month(c.scope, c.layout),
    "acceptance": lambda c: queries.suggestion_acceptance(c.scope, c.layout),
    "agreement": lambda c: queries.agreement_by_month(c.scope, c.layout),
    "throughput": lambda c: queries.throughput(c.scope),
}


@dataclass
class ChartContext:
    """What one request's charts share: the scope, the taxonomy layout, options and loaded datasets."""

    scope: object
    layout: object
    options: dict = field(default_factory=dict)
    loaded: dict = field(default_factory=dict)

    def data(self, name):
        if name not in self.loaded:
            self.loaded[name] = DATASETS[name](self)
        return self.loaded[name]


@dataclass(frozen=True)
class Chart:
    key: str
    dataset: str
    figure: object  # (data, options) -> figure dict
    table: object  # data -> (header, rows)
    description: str = ""
    roles: tuple = ()  # beyond the dashboard's roles; empty means the dashboard's
    drill: str = ""  # dimension whose incident list a bar click opens
    wide: bool = False

    def visible_to(self, user):
        return not self.roles or has_role(user, *self.roles)


@dataclass(frozen=True)
class Dashboard:
    key: str
    title: str
    description: str
    roles: tuple
    charts: tuple

    def visible_to(self, user):
        return has_role(user, *self.roles)

    def charts_for(self, user):
        return [chart for chart in self.charts if chart.visible_to(user)]

    def chart(self, key):
        return next((chart for chart in self.charts if chart.key == key), None)


def _share_figure(title):
    def build(data, options):
        if data.get("parent"):
            return trend_charts.share_bars(
                data,
                f"{data['parent']['name']}: subcategory share per month",
                mode=options.get("mode", "share"),
                parent_key=data["parent"]["key"],
            )
        return trend_charts.share_bars(data, title, mode=options.get("mode", "share"))

    return build


OVERVIEW = Dashboard(
    "overview",
    "Overview",
    "Category share of decided incidents over time.",
    MANAGERS,
    (
        Chart(
            "category-share",
            "categories",
            _share_figure("Category share per month"),
            trend_charts.share_table,
            "Click a category in the legend for its subcategories; click a bar for the incidents behind it.",
            drill=metrics.CATEGORY,
            wide=True,
        ),
    ),
)
DETECTION = Dashboard(
    "detection",
    "Detection",
    "How incidents were detected, and how often a monitor caught them first.",
    MANAGERS,
    (
        Chart(
            "auto-detection-rate",
            "detection",
            lambda d, o: trend_charts.detection_rate(d),
            lambda d: trend_charts.rate_table(d, d["rate"], "auto_detection_rate"),
            "Bars: decided incidents that month (right axis); a rate over a few incidents moves a lot.",
        ),
        Chart(
            "detection-mix",
            "detection",
            lambda d, o: trend_charts.detection_mix(d),
            trend_charts.share_table,
            "Share of each detection source among the month's decided incidents.",
            drill=metrics.DETECTION,
        ),
    ),
)
MITIGATION = Dashboard(
    "mitigation",
    "Mitigation",
    "How incidents were mitigated; an incident mitigated two ways counts in both.",
    MANAGERS,
    (
        Chart(
            "mitigation-mix",
            "mitigation",
            lambda d, o: trend_charts.mitigation_mix(d),
            trend_charts.share_table,
            "Incidents per mitigation type and month.",
            drill=metrics.MITIGATION,
        ),
        Chart(
            "hotfix-rate",
            "mitigation",
            lambda d, o: trend_charts.hotfix_rate(d),
            lambda d: trend_charts.rate_table(d, d["hotfix_rate"], "hotfix_rate"),
            "Share of decided incidents whose mitigation includes a hotfix.",
        ),
        Chart(
            "automation-opportunity",
            "mitigation",
            lambda d, o: trend_charts.automation_rate(d),
            lambda d: trend_charts.rate_table(d, d["automation_rate"], "operational_share"),
            "Mitigated by traffic routing, node rebalancing or capacity increase: work a controller could do.",
        ),
        Chart(
            "ttm-by-mitigation",
            "ttm_by_mitigation",
            lambda d, o: timing_charts.mitigation_boxes(d),
            lambda d: timing_charts.boxes_table(d["groups"]),
            "Time from impact start to mitigation.",
        ),
    ),
)
TIMING = Dashboard(
    "timing",
    "Timing",
    "Time to detect and time to mitigate, from impact start.",
    MANAGERS,
    (
        Chart(
            "ttd-boxes",
            "ttd_boxes",
            lambda d, o: timing_charts.duration_boxes(d),
            lambda d: timing_charts.boxes_table(d["categories"] + d["severities"]),
            "Impact start to detection. Categories count decided incidents; severities count all.",
        ),
        Chart(
            "ttm-boxes",
            "ttm_boxes",
            lambda d, o: timing_charts.duration_boxes(d),
            lambda d: timing_charts.boxes_table(d["categories"] + d["severities"]),
            "Impact start to mitigation. Categories count decided incidents; severities count all.",
        ),
        Chart(
            "ttd-trend",
            "ttd_trend",
            lambda d, o: timing_charts.duration_trend(d),
            timing_charts.trend_table,
            "Bars: incidents with a detection time that month (right axis).",
        ),
        Chart(
            "ttm-trend",
            "ttm_trend",
            lambda d, o: timing_charts.duration_trend(d),
            timing_charts.trend_table,
            "Bars: incidents with a mitigation time that month (right axis).",
        ),
    ),
)
ENGINE = Dashboard(
    "engine",
    "Inference engine",
    "What fails inside the inference engine, timeouts first.",
    MANAGERS,
    (
        Chart(
            "engine-subcategories",
            "engine",
            lambda d, o: trend_charts.share_bars(
                d,
                "Inference engine: subcategory share per month",
                mode=o.get("mode", "share"),
                parent_key=metrics.INFERENCE_ENGINE,
            ),
            trend_charts.share_table,
            "Shares of the month's decided inference-engine incidents.",
            drill=metrics.CATEGORY,
            wide=True,
        ),
    ),
)
STUDY = Dashboard(
    "study",
    "Study comparison",
    f"This team's figures beside the study's ({metrics.PAPER}).",
    MANAGERS,
    (
        Chart(
            "study-comparison",
            "study",
            lambda d, o: labeling_charts.study(d),
            labeling_charts.study_table,
            "Hatched bars: figures from secondary summaries of the paper, not its abstract.",
            wide=True,
        ),
    ),
)
LABELING = Dashboard(
    "labeling",
    "Labeling health",
    "Labeling progress, suggestion acceptance, agreement and throughput.",
    LABELING_HEALTH,
    (
        Chart(
            "decided",
            "decided",
            lambda d, o: labeling_charts.decided(d),
            labeling_charts.decided_table,
            "Decided: a decision on every dimension of the taxonomy. Undecided incidents count in no share.",
        ),
        Chart(
            "agreement",
            "agreement",
            lambda d, o: labeling_charts.agreement(d),
            labeling_charts.agreement_table,
            "Pairs of the first two analysts' current labels on single-valued dimensions, by incident month.",
        ),
        Chart(
            "acceptance-dimension",
            "acceptance",
            lambda d, o: labeling_charts.acceptance_by_dimension(d),
            labeling_charts.acceptance_table,
            "How often the first analyst's value contained the top suggestion.",
        ),
        Chart(
            "acceptance-option",
            "acceptance",
            lambda d, o: labeling_charts.acceptance_by_option(d),
            labeling_charts.acceptance_table,
            wide=True,
        ),
        Chart(
            "throughput",
            "throughput",
            lambda d, o: labeling_charts.throughput(d),
            labeling_charts.throughput_table,
            "By the month of each analyst's first label on an incident.",
            roles=PEOPLE_ROLES,
            wide=True,
        ),
    ),
)

DASHBOARDS = {board.key: board for board in (OVERVIEW, DETECTION, MITIGATION, TIMING, ENGINE, STUDY, LABELING)}


def dashboards_for(user):
    return [board for board in DASHBOARDS.values() if board.visible_to(user)]
