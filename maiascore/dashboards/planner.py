"""The MongoDB aggregations behind every widget, batched per data source and range.

Every number is computed by the database: each pipeline starts with a ``$match`` on
``aid`` and the source's time field (served by the ``(aid, created_at)`` and
``(aid, finishedAt)`` indexes) and ends in a ``$group``. Bins are aligned on multiples
of their size since the Unix epoch (``t - t mod size``), which needs nothing newer than
``$toLong`` and ``$mod``.
"""
import json
import math
from dataclasses import dataclass

from maiascore.dashboards import widgets as W
from maiascore.dashboards.timerange import TimeRange
from maiascore.monitoring.counters import hour_of
from maiascore.monitoring.service import metric_series
from maiascore.trainings.registry import active_model


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
        if query.source is W.MODEL_HEALTH:
            results[name] = [] if ctx.recording is not None else health_rows(ctx, query)
        elif query.key in ctx.prepared:
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


def health_rows(ctx, query):
    """Model Health rows from ``maiascore.monitoring``'s metric series: the counters' hourly bins,
    never the reports. Without a Score Version filter or grouping, the active version's; ungrouped
    Feature PSI is the worst feature's."""
    filters = query.filters or {}
    versions = filters.get("Score Version")
    if versions:
        versions = [ctx.active_version if v == W.ACTIVE_VERSION else v for v in versions]
    elif query.group_by != "Score Version":
        versions = [ctx.active_version] if ctx.active_version else []
    if versions is not None and not [v for v in versions if v]:
        return []
    start, end = query.time_range.start, query.time_range.end
    whole = math.ceil((end - hour_of(start)).total_seconds() / 3600) * 3600
    size = max(3600, query.bin_size) if query.bin_size else max(3600, whole)
    points = metric_series(ctx.aid, query.metric.field, start, end, size, versions, filters.get("Feature"))
    rows = {}
    for point in points:
        group = {"Score Version": point["version"], "Feature": point["feature"]}.get(query.group_by)
        stamp = int(point["time"].timestamp())
        key = (stamp - stamp % query.bin_size if query.bin_size else None, group)
        best = rows.get(key)
        if best is None or (point["value"] is not None and (best["value"] is None or point["value"] > best["value"])):
            rows[key] = {"bin": key[0], "group": group, "count": point["count"], "value": point["value"]}
    if query.spread:  # one figure per bin: its spread is itself
        for row in rows.values():
            row["spread"] = dict.fromkeys(("minimum", "q1", "median", "q3", "maximum"), row["value"])
    return list(rows.values())


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
