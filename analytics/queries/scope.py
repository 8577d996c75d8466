"""What a dashboard counts (Scope), the taxonomy it counts by (Layout), and the months it spans."""

import calendar
from dataclasses import dataclass, field, replace
from datetime import date

from django.db import connection

from labeling.models import Option

# Beyond this many months a chart is unreadable: counted_scope keeps the most recent ones.
MAX_MONTHS = 120
# Options of a multi-valued dimension a fact's bigint mask holds (the sign bit stays unused).
MASK_BITS = 63


@dataclass(frozen=True)
class Scope:
    """One taxonomy version and the dashboard filters: which incidents every chart counts."""

    taxonomy_id: int
    date_from: date | None = None
    date_to: date | None = None
    # FilterValue ids (the facts store those, not the text); None means any.
    service: int | None = None
    model: int | None = None
    modality: int | None = None
    region: int | None = None
    severities: tuple = ()
    # False makes every count read the facts even where the monthly rollup could answer
    # (the tests compare both).
    allow_monthly: bool = True
    # True when counted_scope left out older months with facts to stay within MAX_MONTHS
    # (the pages and the summary API say so).
    truncated: bool = False

    @property
    def monthly(self):
        """Whether analytics.MonthlyFact can answer: no filter finer than whole months and severity."""
        fine = self.service or self.model or self.modality or self.region or not self.allow_monthly
        from_aligned = self.date_from is None or self.date_from.day == 1
        to_aligned = self.date_to is None or self.date_to == _month_end(self.date_to)
        return not fine and from_aligned and to_aligned

    def where(self, alias="f", monthly=False):
        """The SQL condition and parameters selecting this scope's rows of a fact table (or the rollup)."""
        clauses = [f"{alias}.taxonomy_id = %(taxonomy)s"]
        params = {"taxonomy": self.taxonomy_id}
        day = "month" if monthly else "started_on"
        conditions = (
            ("date_from", self.date_from, f"{day} >= %(date_from)s"),
            ("date_to", self.date_to, f"{day} <= %(date_to)s"),
            ("service", self.service, "service_id = %(service)s"),
            ("model", self.model, "model_id = %(model)s"),
            ("modality", self.modality, "modality_id = %(modality)s"),
            ("region", self.region, "region_id = %(region)s"),
            ("severities", list(self.severities), "severity = ANY(%(severities)s)"),
        )
        for name, value, clause in conditions:
            if value:
                clauses.append(f"{alias}.{clause}")
                params[name] = value
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class OptionInfo:
    id: int
    key: str
    name: str
    dimension_key: str
    parent_id: int | None
    order: int


@dataclass
class DimensionInfo:
    id: int
    key: str
    name: str
    multi: bool
    options: list = field(default_factory=list)

    @property
    def top_level(self):
        """Options without a parent, in taxonomy order (a flat dimension: all of them)."""
        return [option for option in self.options if option.parent_id is None]

    def children(self, option_id):
        return [option for option in self.options if option.parent_id == option_id]

    def option(self, key):
        return next((option for option in self.options if option.key == key), None)

    def bit(self, option):
        """The option's bit in a multi-valued mask: its rank by id (the SQL of analytics.actions)."""
        rank = sorted(other.id for other in self.options).index(option.id)
        return 1 << rank if rank < MASK_BITS else 0

    def mask(self, options):
        mask = 0
        for option in options:
            mask |= self.bit(option)
        return mask

    def subtree_ids(self, option):
        """Ids of an option and every option below it; empty when the option is missing (None)."""
        if option is None:
            return []
        found, frontier = [option.id], [option.id]
        while frontier:
            frontier = [child.id for parent in frontier for child in self.children(parent)]
            found.extend(frontier)
        return found


@dataclass
class Layout:
    """A taxonomy's dimensions and options, loaded once per request in one query."""

    dimensions: dict
    options: dict  # id -> OptionInfo

    def dimension(self, key):
        """The dimension with this key, or an empty one (a taxonomy without it: empty charts)."""
        return self.dimensions.get(key) or DimensionInfo(id=0, key=key, name=key.title(), multi=False)

    def top_of(self, option_id):
        """The top-level option above `option_id` (itself when it has no parent)."""
        option = self.options.get(option_id)
        seen = set()
        while option is not None and option.parent_id is not None and option.id not in seen:
            seen.add(option.id)
            option = self.options.get(option.parent_id)
        return option


def load_layout(taxonomy_id):
    """Read the dimensions and options of one taxonomy version."""
    dimensions, options = {}, {}
    rows = (
        Option.objects.filter(dimension__taxonomy_id=taxonomy_id)
        .order_by("dimension__order", "dimension_id", "order", "id")
        .values_list(
            "id",
            "key",
            "name",
            "parent_id",
            "order",
            "dimension_id",
            "dimension__key",
            "dimension__name",
            "dimension__multi",
        )
    )
    for option_id, key, name, parent_id, order, dimension_id, dim_key, dim_name, multi in rows:
        dimension = dimensions.setdefault(dim_key, DimensionInfo(dimension_id, dim_key, dim_name, multi))
        option = OptionInfo(option_id, key, name, dim_key, parent_id, order)
        dimension.options.append(option)
        options[option_id] = option
    return Layout(dimensions, options)


def month_span(scope):
    """The months a chart shows: the filter's range, else the scope's first to last month with facts.

    Every month in between is listed, those without incidents too, so a gap shows as a gap.
    A scope from counted_scope has both dates when the taxonomy has facts, so this reads
    nothing then.
    """
    first = _month_start(scope.date_from) if scope.date_from else None
    last = _month_start(scope.date_to) if scope.date_to else None
    if first is None or last is None:
        low, high = _fact_month_range(scope.taxonomy_id)
        first = first or low
        last = last or high
    if first is None or last is None or first > last:
        return []
    return list(months_between(first, last))


def counted_scope(scope):
    """The scope narrowed to the taxonomy's months with facts, the most recent MAX_MONTHS at most.

    Open or wider dates would list empty months by the decade, and a span longer than
    MAX_MONTHS is unreadable: its older months are left out and `truncated` says so. Every
    count of the dashboards, CSV exports, drill-downs and summary API reads this one scope
    (DashboardFilterForm.scope), so totals agree with the months shown. With no facts at
    all the dates are dropped (nothing to count either way, and no month to list).
    """
    low, high = _fact_month_range(scope.taxonomy_id)
    if low is None:
        return replace(scope, date_from=None, date_to=None)
    first = max(scope.date_from or low, low)
    last = min(scope.date_to or _month_end(high), _month_end(high))
    truncated = _months_apart(first, last) >= MAX_MONTHS
    if truncated:
        first = _add_months(_month_start(last), 1 - MAX_MONTHS)
    # A range outside the facts leaves first after last: nothing counted, no month listed.
    return replace(scope, date_from=first, date_to=last, truncated=truncated)


def _fact_month_range(taxonomy_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(month), max(month) FROM analytics_incidentfact WHERE taxonomy_id = %s", [taxonomy_id]
        )
        return cursor.fetchone()


def _month_start(day):
    return day.replace(day=1)


def _month_end(day):
    # Not "the next day's month": date.max has no next day (GET ?to=9999-12-31).
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _months_apart(first, last):
    return (last.year - first.year) * 12 + last.month - first.month


def _add_months(month, count):
    year, index = divmod(month.year * 12 + month.month - 1 + count, 12)
    return date(year, index + 1, 1)


def months_between(first, last):
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        yield date(year, month, 1)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def fetch(sql, params):
    """Run one read and return its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


FACT_TABLE = "analytics_incidentfact"
MONTHLY_TABLE = "analytics_monthlyfact"


def aggregate(
    scope, select, *, group_by="", where="", joins="", table=FACT_TABLE, alias="f", params=None, monthly=False
):
    """Rows of `SELECT select FROM table alias joins WHERE <scope> AND where GROUP BY group_by`.

    The fragments are SQL written in analytics.queries (never user input); every value,
    the scope's included, travels as a parameter.
    """
    condition, scope_params = scope.where(alias, monthly=monthly)
    if where:
        condition = f"{condition} AND {where}"
    sql = f"SELECT {select} FROM {table} {alias} {joins} WHERE {condition}"  # noqa: S608 - fragments, see above
    if group_by:
        sql = f"{sql} GROUP BY {group_by}"
    return fetch(sql, {**scope_params, **(params or {})})


def count_incidents(scope, build, **kwargs):
    """aggregate() of a counting query over MonthlyFact when it can answer, else over the facts.

    `build(n)` writes the SELECT list, calling n() or n(condition) wherever it counts
    incidents: count(*) over facts, the sum of the rollup's counts over MonthlyFact.
    """
    monthly = scope.monthly

    def n(condition=None):
        counted = "coalesce(sum(f.incidents){}, 0)" if monthly else "count(*){}"
        return counted.format(f" FILTER (WHERE {condition})" if condition else "")

    table = MONTHLY_TABLE if monthly else FACT_TABLE
    return aggregate(scope, build(n), table=table, monthly=monthly, **kwargs)
