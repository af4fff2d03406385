"""Widget data: the v6 body of each widget type, shaped from the planner's aggregated rows.

A datum exists only where at least one document contributes; empty bins and groups are
omitted. Number cards are the exception: every card always answers one datum, with
``count`` 0 and ``value`` null (0 for a count metric) when nothing matched.
"""
import re

from maiascore.dashboards import widgets as W
from maiascore.dashboards.planner import Query, document_rows, grouped_rows, grouped_rows_together
from maiascore.dashboards.timerange import epoch_seconds, v6_datetime

NO_GROUP_ID = "none"
NO_GROUP_LABEL = "(none)"
DOCUMENT_PROPERTY = "Report"
DEFAULT_TABLE_ROWS = 10


def _group_id(value):
    return NO_GROUP_ID if value is None else str(value)


class Labels:
    """``groupLabelMaps``: one map per grouped property, labels looked up once per request."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.maps = {}
        self._names = None

    def add(self, prop, value, label=None):
        self.maps.setdefault(prop, {})[_group_id(value)] = (value, label)

    def render(self):
        rendered = []
        for prop, entries in self.maps.items():
            names = self._user_names(entries) if prop == "User" else {}
            labels = []
            for group_id, (value, label) in entries.items():
                if value is None:
                    text = NO_GROUP_LABEL
                elif label is not None:
                    text = str(label)
                elif prop == "User":
                    text = names.get(value, f"user {value}")
                elif prop == "Score Version" and str(value) == self.ctx.active_version:
                    text = f"{value} (active)"
                else:
                    text = str(value)
                labels.append({"groupId": group_id, "groupLabel": text})
            rendered.append({"groupProperty": prop, "groupLabels": labels})
        return rendered

    def label_of(self, prop, value):
        """Sorting alphabetically needs the label a client will see."""
        if prop == "User" and value is not None:
            names = self._user_names(self.maps.get(prop, {}))
            return names.get(value, f"user {value}")
        return NO_GROUP_LABEL if value is None else str(value)

    def _user_names(self, entries):
        if self._names is None:
            ids = [value for value, _ in entries.values() if value is not None]
            self._names = {doc["_id"]: doc["username"]
                           for doc in self.ctx.db.users.find({"_id": {"$in": ids}}, {"username": 1})}
        return self._names


def natural_key(text):
    """Version "10" sorts after "9": digit runs compare as numbers, the rest case-insensitively."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", text) if part]


def _groups(prop, value):
    return [{"groupProperty": prop, "groupId": _group_id(value)}] if prop else []


def _sort_rows(rows, widget, labels):
    """Rows of a summary widget in the configured order (Value, Descending by default), cut at ``limit``."""
    sort_by = widget.get("sortBy") or "Value"
    prop = widget.get("groupBy")
    if sort_by == "Alphabetical":
        reverse = widget.get("sortDirection") == "Descending"
        named = [row for row in rows if row["group"] is not None]
        named.sort(key=lambda row: natural_key(labels.label_of(prop, row["group"])), reverse=reverse)
        rows[:] = named + [row for row in rows if row["group"] is None]
    else:
        reverse = widget.get("sortDirection") != "Ascending"
        present = [row for row in rows if row["value"] is not None]
        absent = [row for row in rows if row["value"] is None]
        present.sort(key=lambda row: row["value"], reverse=reverse)
        rows[:] = present + absent
    if widget.get("limit"):
        del rows[widget["limit"]:]
    return rows


def widget_range(widget, time_range):
    """The range a widget (or card) shows: its own span (``fixedTimespan``) ending where the report's does."""
    if widget.get("fixedTimespan"):
        return time_range.ending_at_end(int(widget["fixedTimespan"]))
    return time_range


def _spec(spec):
    source = W.DATA_SOURCES[spec["dataSource"]]
    return source, source.metrics[spec["metric"]], spec.get("measure")


def widget_data(ctx, widget, time_range):
    """The v6 body for one widget over ``time_range``."""
    time_range = widget_range(widget, time_range)
    labels = Labels(ctx)
    kind = widget["type"]
    if kind == W.NUMBER:
        data = _number_data(ctx, widget, time_range)
        bin_size = time_range.seconds
    elif kind == W.MULTI_METRIC_TABLE:
        data = _multi_metric_data(ctx, widget, time_range, labels)
        bin_size = time_range.seconds
    elif kind in W.BINNED_TYPES:
        bin_size = time_range.bin_size
        data = _binned_data(ctx, widget, time_range, bin_size, labels)
    elif kind == W.TABLE and not widget.get("groupBy") and widget.get("dataSource") != W.MODEL_HEALTH.name:
        data = _document_data(ctx, widget, time_range, labels)
        bin_size = time_range.seconds
    else:
        data = _summary_data(ctx, widget, time_range, labels)
        bin_size = time_range.seconds
    return {"from": v6_datetime(time_range.start), "to": v6_datetime(time_range.end),
            "reportDataComponentData": {"binSize": bin_size, "data": data, "groupLabelMaps": labels.render()}}


def _binned_data(ctx, widget, time_range, bin_size, labels):
    prop = widget.get("groupBy")
    rows = grouped_rows(ctx, Query(*_spec(widget), widget.get("filters"), prop, time_range, bin_size=bin_size))
    rows.sort(key=lambda row: (row["bin"], _group_id(row["group"])))
    for row in rows:
        if prop:
            labels.add(prop, row["group"])
    return [{"binId": row["bin"], "count": row["count"], "value": row["value"], "groups": _groups(prop, row["group"])}
            for row in rows]


def _summary_data(ctx, widget, time_range, labels):
    prop = widget.get("groupBy")
    spread = widget["type"] == W.BOX_AND_WHISKERS
    rows = grouped_rows(ctx, Query(*_spec(widget), widget.get("filters"), prop, time_range, spread=spread))
    for row in rows:
        if prop:
            labels.add(prop, row["group"])
    _sort_rows(rows, widget, labels)
    start = epoch_seconds(time_range.start)
    data = []
    for row in rows:
        datum = {"binId": start, "count": row["count"], "value": row["value"], "groups": _groups(prop, row["group"])}
        if spread:
            datum["distribution"] = row["spread"]
        data.append(datum)
    return data


def _document_data(ctx, widget, time_range, labels):
    source, metric, _ = _spec(widget)
    rows = document_rows(ctx, source, metric, widget.get("filters"), time_range, widget.get("sortBy"),
                         widget.get("sortDirection"), widget.get("limit") or DEFAULT_TABLE_ROWS)
    data = []
    for row in rows:
        document_id = str(row["_id"])
        labels.add(DOCUMENT_PROPERTY, document_id, row.get("label") if row.get("label") is not None else document_id)
        data.append({"binId": epoch_seconds(row["t"]), "count": 1, "value": row["v"],
                     "groups": [{"groupProperty": DOCUMENT_PROPERTY, "groupId": document_id}]})
    return data


def _merged_filters(outer, inner):
    merged = dict(outer or {})
    merged.update(inner or {})
    return merged


def _number_data(ctx, widget, time_range):
    cards = widget.get("numberCards")
    if not cards:  # configured like any other widget: a single card, already ranged
        cards = [{key: value for key, value in widget.items() if key not in ("filters", "fixedTimespan")}]
    queries = {card["id"]: Query(*_spec(card), _merged_filters(widget.get("filters"), card.get("filters")), None,
                                 widget_range(card, time_range))
               for card in cards}
    results = grouped_rows_together(ctx, queries)
    data = []
    for card in cards:
        query, rows = queries[card["id"]], results[card["id"]]
        row = rows[0] if rows else {"count": 0, "value": 0 if query.metric.is_count else None}
        data.append({"cardId": card["id"], "binId": epoch_seconds(query.time_range.start), "count": row["count"],
                     "value": row["value"], "groups": []})
    return data


def _multi_metric_data(ctx, widget, time_range, labels):
    prop = widget.get("groupBy")
    columns = widget["multiMetricColumns"]
    cells = {}  # group value -> {column id: row}
    order = []
    results = grouped_rows_together(ctx, {column["id"]: Query(*_spec(column), widget.get("filters"), prop, time_range)
                                          for column in columns})
    for column in columns:
        for row in results[column["id"]]:
            if row["group"] not in cells:
                cells[row["group"]] = {}
                order.append(row["group"])
                if prop:
                    labels.add(prop, row["group"])
            cells[row["group"]][column["id"]] = row
    first = columns[0]["id"]
    rows = [{"group": group, "value": cells[group].get(first, {}).get("value")} for group in order]
    _sort_rows(rows, widget, labels)
    start = epoch_seconds(time_range.start)
    data = []
    for row in rows:
        for column in columns:
            cell = cells[row["group"]].get(column["id"])
            if cell is not None:
                data.append({"columnId": column["id"], "binId": start, "count": cell["count"],
                             "value": cell["value"], "groups": _groups(prop, row["group"])})
    return data
