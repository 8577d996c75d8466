"""Plotly figures (plain dicts: the JSON plotly.js reads) and CSV tables of the dashboards' data. Pure.

Every function takes the plain data of analytics.queries and returns a figure or a
(header, rows) table; nothing here reads the database, so the figures are tested directly.
"""

from analytics.charts import labeling, timing, trends
from analytics.charts.base import KEY_COLORS, color_for

__all__ = ["KEY_COLORS", "color_for", "labeling", "timing", "trends"]
