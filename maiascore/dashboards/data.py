"""Widget data: time ranges, bins and the MongoDB aggregation pipelines behind every widget.

Every number is computed by the database: each pipeline starts with a ``$match`` on
``aid`` and the source's time field (served by the ``(aid, created_at)`` and
``(aid, finishedAt)`` indexes) and ends in a ``$group``; Python only shapes the
aggregated rows. Bins are aligned on multiples of their size since the Unix epoch
(``t - t mod size``), which needs nothing newer than ``$toLong`` and ``$mod``.

A datum exists only where at least one document contributes; empty bins and groups are
omitted. Number cards are the exception: every card always answers one datum, with
``count`` 0 and ``value`` null (0 for a count metric) when nothing matched.
"""
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from maiascore.dashboards import widgets as W
from maiascore.http.errors import abort

DEFAULT_WINDOW = timedelta(days=7)
MAX_RANGE = timedelta(days=93)
# (longest range, bin size in seconds), from the v6 table.
BIN_SIZES = ((timedelta(days=1), 300), (timedelta(days=14), 3600), (timedelta(days=30), 7200),
             (timedelta(days=50), 14400), (MAX_RANGE, 21600))
WINDOW_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
WINDOW_PATTERN = re.compile(r"^([0-9]+)([smhdw]?)$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}Z?$")
NO_GROUP_ID = "none"
NO_GROUP_LABEL = "(none)"
DOCUMENT_PROPERTY = "Report"
DEFAULT_TABLE_ROWS = 10


def v6_datetime(value):
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if value else None


def epoch_seconds(value):
    return int(value.timestamp())


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def seconds(self):
        return int((self.end - self.start).total_seconds())

    @property
    def bin_size(self):
        length = self.end - self.start
        for longest, size in BIN_SIZES:
            if length <= longest:
                return size
        raise AssertionError("ranges are checked against MAX_RANGE when parsed")

    def ending_at_end(self, seconds):
        """The range a ``fixedTimespan`` widget uses: the same end, its own length."""
        return TimeRange(self.end - timedelta(seconds=seconds), self.end)


def parse_date(raw, name):
    text = (raw or "").strip()
    if not DATE_PATTERN.match(text):
        abort(400, f"{name} must be a UTC date-time as YYYY-mm-ddTHH:MM:SS, not {raw!r}")
    try:
        value = datetime.fromisoformat(text.rstrip("Z").replace(" ", "T"))
    except ValueError:
        abort(400, f"{name} {raw!r} is not a valid date-time")
    return value.replace(tzinfo=timezone.utc)


def parse_window(raw):
    match = WINDOW_PATTERN.match((raw or "").strip())
    if not match:
        abort(400, f"window must be a number followed by s, m, h, d or w (e.g. 12h, 7d), not {raw!r}")
    seconds = int(match.group(1)) * WINDOW_UNITS[match.group(2)]
    if seconds <= 0:
        abort(400, "window must be longer than zero")
    return timedelta(seconds=seconds)


def parse_time_range(window=None, start=None, end=None, now=None):
    """v6 time ranges: ``window`` or ``from`` (with an optional ``to``); 7 days by default."""
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    if window and (start or end):
        abort(400, "window and from/to are mutually exclusive: send one or the other")
    if end and not start:
        abort(400, "to needs from: send from, or from and to")
    if start:
        begin = parse_date(start, "from")
        finish = parse_date(end, "to") if end else now
        if finish <= begin:
            abort(400, "to must be later than from" if end else "from must be in the past when to is omitted")
    else:
        length = parse_window(window) if window else DEFAULT_WINDOW
        begin, finish = now - length, now
    check_length(finish - begin)
    return TimeRange(begin, finish)


def check_length(length):
    if length > MAX_RANGE:
        abort(400, f"the time range spans {length.total_seconds() / 86400:g} days; at most 93 days are served")


# --- pipelines -------------------------------------------------------------------------


def _accumulator(metric, measure):
    if metric.is_count:
        return {"$sum": "$v"}
    kind = measure["type"]
    if kind == W.MEAN:
        return {"$avg": "$v"}
    if kind == W.MEDIAN:
        return {"$median": {"input": "$v", "method": "approximate"}}
    if kind == W.MINIMUM:
        return {"$min": "$v"}
    if kind == W.MAXIMUM:
        return {"$max": "$v"}
    if kind == W.PERCENTILE:
        return {"$percentile": {"input": "$v", "p": [measure["percentileValue"] / 100], "method": "approximate"}}
    if kind == W.STD_DEV:
        return {"$stdDevPop": "$v"}
    raise ValueError(kind)


def _value_expression(metric):
    if metric.field:
        return "$" + metric.field
    if metric.end:
        return {"$divide": [{"$subtract": ["$" + metric.end, "$" + metric.start]}, 1000]}
    if metric.counts_status:
        return {"$cond": [{"$eq": ["$status", metric.counts_status]}, 1, 0]}
    return {"$literal": 1}


def _and(query, path, condition):
    """Adds operators on ``path``, merging with operators already there (time field and metric may coincide)."""
    existing = query.get(path)
    if isinstance(existing, dict) and isinstance(condition, dict):
        existing.update(condition)
    else:
        query[path] = condition


class Context:
    """What one request's widgets share: the database, the group and lazily looked-up facts."""

    def __init__(self, db, aid):
        self.db = db
        self.aid = aid
        self._active_version = ...
        self.recording = None  # while planning: the queries widgets ask for, by key
        self.prepared = {}     # rows already aggregated, by query key

    @property
    def active_version(self):
        if self._active_version is ...:
            from maiascore.trainings.registry import active_model

            model = active_model(self.aid)
            self._active_version = str(model["version"]) if model else None
        return self._active_version

    def match(self, source, metric, filters, time_range):
        """Two ``$match`` conditions: group and time range alone, so the planner picks the
        ``(aid, time)`` index; then filters and the metric's presence as a later stage
        (MongoDB coalesces adjacent ``$match`` stages; SecantusDB's planner needs them apart)."""
        indexed = {"aid": self.aid}
        if time_range is not None:
            indexed[source.time_field] = {"$gte": time_range.start, "$lte": time_range.end}
        rest = {}
        for prop, values in (filters or {}).items():
            if prop == "Score Version" and W.ACTIVE_VERSION in values:
                values = [v for v in values if v != W.ACTIVE_VERSION]
                values += [self.active_version] if self.active_version else []
            _and(rest, source.groups[prop], {"$in": values})
        if metric.field:
            _and(rest, metric.field, {"$type": "number"})
        elif metric.end:
            _and(rest, metric.end, {"$type": "date"})
            _and(rest, metric.start, {"$type": "date"})
        return indexed, rest

    def aggregate(self, source, pipeline):
        return list(self.db[source.collection].aggregate(pipeline, allowDiskUse=True))


@dataclass(frozen=True)
class Query:
    """One set of aggregated rows: a metric and measure, filtered, grouped, over a range.

    ``bin_size`` None makes one bin of the whole range; ``spread`` adds the quartiles a
    Box and Whiskers draws.
    """

    source: W.DataSource
    metric: W.Metric
    measure: dict
    filters: dict
    group_by: str
    time_range: TimeRange
    bin_size: int = None
    spread: bool = False

    @property
    def key(self):
        return (self.source.name, self.metric.name, json.dumps(self.measure, sort_keys=True),
                json.dumps(self.filters, sort_keys=True), self.group_by, self.effective_range, self.bin_size,
                self.spread)

    @property
    def effective_range(self):
        """The active model's training defines today's model however long ago it finished."""
        if (self.source is W.TRAININGS and self.bin_size is None
                and (self.filters or {}).get("Score Version") == [W.ACTIVE_VERSION]):
            return None
        return self.time_range


def _stages(ctx, query):
    """The indexed ``$match`` condition, and the stages that follow it."""
    indexed, rest = ctx.match(query.source, query.metric, query.filters, query.effective_range)
    group_expression = ({"$ifNull": ["$" + query.source.groups[query.group_by], None]} if query.group_by
                        else {"$literal": None})
    group_id = {"g": "$g"}
    if query.bin_size is not None:
        millis = query.bin_size * 1000
        group_id["b"] = {"$subtract": [{"$toLong": "$t"}, {"$mod": [{"$toLong": "$t"}, millis]}]}
    accumulators = {"count": {"$sum": 1}, "value": _accumulator(query.metric, query.measure)}
    if query.spread:
        accumulators.update(low={"$min": "$v"}, high={"$max": "$v"},
                            quartiles={"$percentile": {"input": "$v", "p": [0.25, 0.5, 0.75],
                                                       "method": "approximate"}})
    stages = [{"$match": rest}] if rest else []
    stages += [
        {"$project": {"_id": 0, "t": "$" + query.source.time_field, "v": _value_expression(query.metric),
                      "g": group_expression}},
        {"$group": {"_id": group_id, **accumulators}},
    ]
    return indexed, stages


def _rows(query, raw_rows):
    rows = []
    for raw in raw_rows:
        value = raw["value"]
        if isinstance(value, list):  # $percentile answers one value per requested p
            value = value[0] if value else None
        row = {"bin": raw["_id"]["b"] // 1000 if query.bin_size is not None else None,
               "group": raw["_id"].get("g"), "count": raw["count"], "value": value}
        if query.spread:
            q1, median, q3 = raw["quartiles"]
            row["spread"] = {"minimum": raw["low"], "q1": q1, "median": median, "q3": q3, "maximum": raw["high"]}
        rows.append(row)
    return rows


def grouped_rows(ctx, query):
    """Aggregated rows ``{bin, group, count, value[, spread]}``."""
    return grouped_rows_together(ctx, {"rows": query})["rows"]


def grouped_rows_together(ctx, queries):
    """Rows for several queries, one ``$facet`` aggregation per data source and range: the
    documents are read once for all the cards of a Number widget or columns of a table."""
    results, pending = {}, {}
    for name, query in queries.items():
        if query.key in ctx.prepared:
            results[name] = ctx.prepared[query.key]
        elif ctx.recording is not None:
            ctx.recording[query.key] = query
            results[name] = []
        else:
            pending[name] = query
    queries = pending
    buckets = {}
    for key, query in queries.items():
        buckets.setdefault((query.source.name, query.effective_range), []).append(key)
    for keys in buckets.values():
        if len(keys) == 1:
            query = queries[keys[0]]
            indexed, stages = _stages(ctx, query)
            results[keys[0]] = _rows(query, ctx.aggregate(query.source, [{"$match": indexed}, *stages]))
            continue
        facets = {}
        for position, key in enumerate(keys):
            indexed, stages = _stages(ctx, queries[key])
            facets[f"f{position}"] = stages
        [raw] = ctx.aggregate(queries[keys[0]].source, [{"$match": indexed}, {"$facet": facets}])
        for position, key in enumerate(keys):
            results[key] = _rows(queries[key], raw[f"f{position}"])
    return results


def prepare(ctx, plan):
    """Runs ``plan`` twice: first recording the aggregations it asks for, which then run
    batched (one ``$facet`` per data source and range), then for real, served from those
    rows. A snapshot reads each collection once for all of a report's widgets."""
    ctx.recording = {}
    try:
        plan()
        recorded = ctx.recording
    finally:
        ctx.recording = None
    ctx.prepared.update(grouped_rows_together(ctx, recorded))
    return plan()


def document_rows(ctx, source, metric, filters, time_range, sort_by, direction, limit):
    """One row per document, for a Table without groupBy: the newest first unless sorted otherwise."""
    if ctx.recording is not None:
        return []
    indexed, rest = ctx.match(source, metric, filters, time_range)
    match = [{"$match": indexed}] + ([{"$match": rest}] if rest else [])
    label = "$" + source.label_field
    project = {"$project": {"t": "$" + source.time_field, "v": _value_expression(metric), "label": label}}
    descending = -1 if direction != "Ascending" else 1
    if sort_by == "Value":
        pipeline = [*match, project, {"$sort": {"v": descending, "_id": descending}}, {"$limit": limit}]
    elif sort_by == "Alphabetical":
        ascending = 1 if direction != "Descending" else -1
        pipeline = [*match, {"$sort": {source.label_field: ascending, "_id": ascending}}, {"$limit": limit}, project]
    else:
        pipeline = [*match, {"$sort": {source.time_field: descending, "_id": descending}}, {"$limit": limit},
                    project]
    return ctx.aggregate(source, pipeline)


# --- shaping --------------------------------------------------------------------------


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


def _widget_range(widget, time_range):
    if widget.get("fixedTimespan"):
        return time_range.ending_at_end(int(widget["fixedTimespan"]))
    return time_range


def _spec(spec):
    source = W.DATA_SOURCES[spec["dataSource"]]
    return source, source.metrics[spec["metric"]], spec.get("measure")


def widget_data(ctx, widget, time_range):
    """The v6 body for one widget over ``time_range``."""
    time_range = _widget_range(widget, time_range)
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
    elif kind == W.TABLE and not widget.get("groupBy"):
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
                                 _widget_range(card, time_range))
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
