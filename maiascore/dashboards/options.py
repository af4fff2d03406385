"""What a widget may be made of, as data: the answer of ``GET /v6/widget-options``.

Built from ``widgets.py``'s definitions, so that a client's editor (the console's) offers
exactly the combinations ``clean_widgets`` accepts, without keeping a copy of the tables.
"""
from maiascore.dashboards import widgets

# Per-type rules that ``clean_widgets`` enforces in code, stated once here for clients.
_METRICS_FROM = {widgets.NUMBER: "numberCards", widgets.MULTI_METRIC_TABLE: "multiMetricColumns"}
_NO_GROUP_BY = frozenset({widgets.NUMBER})
_VALUE_METRICS_ONLY = frozenset({widgets.BOX_AND_WHISKERS})


def _filter_kind(source, prop):
    if prop == "Score Version":
        return "version"
    if prop in source.integer_groups:
        return "userId"
    return "text"


def _data_source(source):
    return {
        "name": source.name,
        "metrics": [{"name": m.name, "isCount": m.is_count} for m in source.metrics.values()],
        "groupBy": list(source.groups),
        "filters": [{"property": prop, "kind": _filter_kind(source, prop),
                     "values": list(source.allowed_values[prop]) if prop in source.allowed_values else None}
                    for prop in source.groups],
    }


def _widget_type(kind):
    return {
        "name": kind,
        "binned": kind in widgets.BINNED_TYPES,
        "metricsFrom": _METRICS_FROM.get(kind, "widget"),
        "takesGroupBy": kind not in _NO_GROUP_BY,
        "valueMetricsOnly": kind in _VALUE_METRICS_ONLY,
    }


def widget_options():
    """Every widget type, data source, metric, grouping, filter value, measure and visual mode."""
    return {
        "widgetTypes": [_widget_type(kind) for kind in widgets.WIDGET_TYPES],
        "dataSources": [_data_source(source) for source in widgets.DATA_SOURCES.values()],
        "measures": list(widgets.MEASURES),
        "percentileMeasure": widgets.PERCENTILE,
        "defaultMeasure": widgets.MEAN,
        "visualModes": list(widgets.VISUAL_MODES),
        "sortBy": list(widgets.SORT_BY),
        "sortDirections": list(widgets.SORT_DIRECTIONS),
        "activeVersion": widgets.ACTIVE_VERSION,
        "maxLimit": widgets.MAX_LIMIT,
        "maxFixedTimespan": widgets.MAX_FIXED_TIMESPAN,
    }
