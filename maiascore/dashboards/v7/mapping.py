"""Between ThousandEyes v7 shapes and the stored v6 report documents, both ways; no I/O.

A v7 ``dashboardId`` is the v6 ``reportId``. ThousandEyes closes ``dataSource``, ``metric``,
``metricGroup`` and ``groupBy`` to its own values (the official SDK turns anything else into
``"unknown"``), so MaiaScore's own values travel in the extension property
``maiascore: {widgetId, dataSource, metric, metricGroup, groupBy, fixedTimespanSeconds}`` on
every widget, card and column. The SDK never sends widget ids, so ``maiascore.widgetId``
is how an update keeps them. Fields v6 does not know (``showZoomSlider``, ``layout``...)
are returned as ``extras`` for the caller to keep beside the report.
"""
import json
import secrets
import string
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from config import settings
from maiascore.dashboards.timerange import EARLIEST, LATEST
from maiascore.dashboards.widgets import too_many_parts, too_many_widgets
from maiascore.errors import Invalid

EXTENSION = "maiascore"
UNKNOWN = "unknown"
MEASURES = {"MEAN": "Mean", "MEDIAN": "Median", "MINIMUM": "Minimum", "MAXIMUM": "Maximum",
            "NTH_PERCENTILE": "nth Percentile", "STDDEV": "Standard Deviation"}
MEASURES_BACK = {v6: v7 for v7, v6 in MEASURES.items()}
UNIT_SECONDS = {"Days": 86400, "Hours": 3600, "Minutes": 60}
NUMBER, MULTI_METRIC_TABLE = "Number", "Multi Metric Table"
DEFAULT_WINDOW_SECONDS = 7 * 86400

# What v6 stores, or what the server computes; everything else on a widget is an extra.
WIDGET_KEYS = {"id", "type", "title", "visualMode", "isEmbedded", "embedUrl", "apiLink", "_links", "dataSource",
               "metric", "metricGroup", "direction", "groupBy", "rowGroupBy", "measure", "filters", "fixedTimespan",
               "sortBy", "sortDirection", "limit", "numberCards", "multiMetricColumns", EXTENSION}
PART_KEYS = {"id", "description", "dataSource", "metric", "metricGroup", "direction", "measure", "filters",
             "fixedTimespan", "_links", EXTENSION}
DASHBOARD_KEYS = {"dashboardId", "title", "description", "isBuiltIn", "aid", "accountId", "createdBy", "modifiedBy",
                  "modifiedDate", "dashboardCreatedBy", "dashboardModifiedBy", "dashboardModifiedDate",
                  "isPrivate", "isDefaultForUser", "isDefaultForAccount", "widgets", "_links", "apiLink", "schedule",
                  "isMigratedReport", "migratedReport"}
_ID_ALPHABET = string.ascii_lowercase + string.digits


class Links:
    """Absolute v7 links from the request's host, carrying its ``aid`` when it named one."""

    def __init__(self, host_url, aid=None):
        self.base = host_url.rstrip("/") + "/v7"
        self.aid = aid if aid not in (None, "") else None

    def url(self, path, **params):
        params = {k: v for k, v in params.items() if v not in (None, "")}
        if self.aid is not None:
            params["aid"] = self.aid
        return self.base + path + ("?" + urlencode(params) if params else "")

    def href(self, path, **params):
        return {"href": self.url(path, **params)}


# --- small conversions -------------------------------------------------------------------


def _utc_text(value, layout):
    """``value`` in UTC (a naive one already is, as MongoDB gives it back) as ``layout`` says; None stays None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(layout)


def iso(value):
    """ISO-8601 in UTC with a ``Z``, what the SDK's pydantic models parse as a datetime."""
    return _utc_text(value, "%Y-%m-%dT%H:%M:%SZ")


def v6_text(value):
    return _utc_text(value, "%Y-%m-%d %H:%M:%S")


def from_v6_text(text):
    """v6 bodies say ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc) if text else None


def parse_query_date(raw, name):
    """The SDK sends ``%Y-%m-%dT%H:%M:%S.%f%z``; any ISO-8601 date-time is accepted, naive means UTC."""
    if raw in (None, ""):
        return None
    text = raw.strip()
    if "T" in text and " " in text:  # an unencoded "+0000" arrives as " 0000"
        text = text.replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{name} must be an ISO-8601 date-time such as 2024-05-01T00:00:00Z, not {raw!r}",
                      errors=[{"code": "INVALID_VALUE", "field": name, "message": "not an ISO-8601 date-time"}])
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        value = EARLIEST - timedelta(days=1)
    if not EARLIEST <= value < LATEST:
        raise Invalid(f"{name} must be between {EARLIEST:%Y-%m-%dT%H:%M:%SZ} and {LATEST:%Y-%m-%dT%H:%M:%SZ}, "
                      f"not {raw!r}", errors=[{"code": "INVALID_VALUE", "field": name, "message": "out of range"}])
    return value


def v6_query_date(value):
    """The service's own range parser speaks ``YYYY-mm-ddTHH:MM:SS`` (UTC)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S") if value else None


def range_in(query):
    """``window`` or ``startDate``/``endDate`` of a widget-data query, named as v7 names them."""
    window = query.get("window")
    start = parse_query_date(query.get("startDate"), "startDate")
    end = parse_query_date(query.get("endDate"), "endDate")
    if window and (start or end):
        raise Invalid("window and startDate/endDate are mutually exclusive: send one or the other", errors=[
            {"code": "INVALID_VALUE", "field": "window", "message": "not with startDate/endDate"}])
    if end and not start:
        start = end - timedelta(seconds=DEFAULT_WINDOW_SECONDS)
    return window, start, end


def _as_str(value):
    return None if value is None else str(value)


def _as_int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _own(*candidates):
    """The first value that is MaiaScore's: the SDK's ``"unknown"`` placeholder is no value."""
    for value in candidates:
        if value not in (None, "", UNKNOWN):
            return value
    return None


def _invalid(field, message):
    raise Invalid(f"{field}: {message}", errors=[{"code": "INVALID_VALUE", "field": field, "message": message}])


def _extension(raw, field):
    ext = raw.get(EXTENSION)
    if ext is None:
        return {}
    if not isinstance(ext, dict):
        _invalid(f"{field}.{EXTENSION}", "must be an object {dataSource, metric, groupBy}")
    return ext


def _measure_in(raw, field):
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict):
        _invalid(f"{field}.measure", "must be an object {type, percentileValue}")
    kind = raw.get("type")
    if kind in (None, UNKNOWN):
        return None
    if kind not in MEASURES:
        _invalid(f"{field}.measure.type", f"{kind!r} is not supported; use one of {', '.join(MEASURES)}")
    measure = {"type": MEASURES[kind]}
    if raw.get("percentileValue") is not None:
        measure["percentileValue"] = raw["percentileValue"]
    return measure


def _measure_out(measure):
    if not measure:
        return None
    out = {"type": MEASURES_BACK.get(measure.get("type"), UNKNOWN)}
    if measure.get("percentileValue") is not None:
        out["percentileValue"] = measure["percentileValue"]
    return out


def _timespan_in(raw, ext, field):
    if ext.get("fixedTimespanSeconds") not in (None, ""):
        return ext["fixedTimespanSeconds"]
    if raw in (None, {}):
        return None
    if not isinstance(raw, dict):
        _invalid(f"{field}.fixedTimespan", "must be an object {value, unit}")
    value, unit = raw.get("value"), raw.get("unit")
    if unit not in UNIT_SECONDS:
        _invalid(f"{field}.fixedTimespan.unit", f"use one of {', '.join(UNIT_SECONDS)}")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        _invalid(f"{field}.fixedTimespan.value", "must be a positive whole number")
    return value * UNIT_SECONDS[unit]


def _timespan_out(seconds, ext):
    if seconds in (None, ""):
        return None
    seconds = int(seconds)
    for unit, size in UNIT_SECONDS.items():
        if seconds % size == 0:
            return {"value": seconds // size, "unit": unit}
    ext["fixedTimespanSeconds"] = seconds  # v6 allows any number of seconds; v7 units stop at minutes
    return None


def _metric_in(raw, ext, out):
    """dataSource / metric / metricGroup: the extension first, then the v7 field unless it is a placeholder."""
    for key in ("dataSource", "metric", "metricGroup"):
        value = _own(ext.get(key), raw.get(key))
        if value is not None:
            out[key] = value


def _extras(raw, known):
    return {key: value for key, value in raw.items() if key not in known}


# --- dashboards in -----------------------------------------------------------------------


def _part_in(raw, field):
    if not isinstance(raw, dict):
        _invalid(field, "must be an object")
    ext = _extension(raw, field)
    part = {}
    if raw.get("id") not in (None, ""):
        part["id"] = str(raw["id"])
    if raw.get("description") is not None:
        part["description"] = raw["description"]
    _metric_in(raw, ext, part)
    _measured_in(raw, ext, field, part)
    return part, _extras(raw, PART_KEYS)


def _measured_in(raw, ext, field, out):
    """What a widget and its cards or columns carry alike into their v6 body: measure, filters, fixed timespan."""
    measure = _measure_in(raw.get("measure"), field)
    if measure:
        out["measure"] = measure
    if raw.get("filters"):
        out["filters"] = raw["filters"]
    seconds = _timespan_in(raw.get("fixedTimespan"), ext, field)
    if seconds is not None:
        out["fixedTimespan"] = seconds


def _widget_in(raw, field):
    """One v7 widget as the v6 body ``clean_widgets`` validates, its parts' extras, and its own."""
    if not isinstance(raw, dict):
        _invalid(field, "must be an object")
    ext = _extension(raw, field)
    widget = {"type": raw.get("type")}
    if ext.get("widgetId") not in (None, ""):
        widget["id"] = str(ext["widgetId"])
    elif raw.get("id") not in (None, ""):
        widget["id"] = str(raw["id"])
    for key in ("title", "isEmbedded", "limit"):
        if raw.get(key) is not None:
            widget[key] = raw[key]
    for key in ("visualMode", "sortBy", "sortDirection"):
        value = _own(raw.get(key))
        if value is not None:
            widget[key] = value
    _metric_in(raw, ext, widget)
    group_by = _own(ext.get("groupBy"), raw.get("groupBy"), raw.get("rowGroupBy"))
    if group_by is not None:
        widget["groupBy"] = group_by
    _measured_in(raw, ext, field, widget)
    part_extras = []
    for key in ("numberCards", "multiMetricColumns"):
        if raw.get(key) is None:
            continue
        if not isinstance(raw[key], list):
            _invalid(f"{field}.{key}", "must be a list")
        problem = too_many_parts(raw[key], key)
        if problem:
            _invalid(f"{field}.{key}", problem)
        parts = []
        for position, item in enumerate(raw[key]):
            part, extra = _part_in(item, f"{field}.{key}[{position}]")
            parts.append(part)
            part_extras.append((part, extra))
        widget[key] = parts
    return widget, _extras(raw, WIDGET_KEYS), part_extras


def _new_id(taken):
    while True:
        candidate = "".join(secrets.choice(_ID_ALPHABET) for _ in range(5))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def dashboard_in(body, existing_widgets=()):
    """A v7 dashboard body as ``(v6 report body, extras)``.

    Widgets keep their ids: the one named by ``maiascore.widgetId``, else the existing
    widget at the same position with the same type. Ids are assigned here, not by the
    service, so that the extras can be filed under them.
    """
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object (a dashboard)")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise Invalid("title is required", errors=[{"code": "REQUIRED", "field": "title",
                                                     "message": "a dashboard needs a non-empty title"}])
    if body.get("isPrivate") is True:
        raise Invalid("isPrivate: private dashboards are not supported; a dashboard is visible to its account group",
                      errors=[{"code": "INVALID_VALUE", "field": "isPrivate",
                               "message": "private dashboards are not supported"}])
    raw_widgets = body.get("widgets") or []
    if not isinstance(raw_widgets, list):
        _invalid("widgets", "must be a list")
    problem = too_many_widgets(raw_widgets)
    if problem:
        _invalid("widgets", problem)
    converted = [_widget_in(raw, f"widgets[{index}]") for index, raw in enumerate(raw_widgets)]

    taken = set()
    for widget, _, _ in converted:
        for key in ("numberCards", "multiMetricColumns"):
            taken.update(part["id"] for part in widget.get(key) or () if part.get("id"))
    claimed = set()
    for index, (widget, _, _) in enumerate(converted):
        wanted = widget.get("id")
        if wanted and wanted not in claimed and wanted not in taken:
            claimed.add(wanted)
            continue
        widget.pop("id", None)
        if index < len(existing_widgets):
            old = existing_widgets[index]
            if old.get("type") == widget.get("type") and old["id"] not in claimed and old["id"] not in taken:
                widget["id"] = old["id"]
                claimed.add(old["id"])
    taken |= claimed
    extras = {"parts": {}}
    for widget, widget_extras, part_extras in converted:
        if not widget.get("id"):
            widget["id"] = _new_id(taken)
        if widget_extras:
            extras["parts"][widget["id"]] = widget_extras
        for part, part_extra in part_extras:
            if not part.get("id"):
                part["id"] = _new_id(taken)
            if part_extra:
                extras["parts"][part["id"]] = part_extra

    report = {"title": title, "description": body.get("description") or "",
              "widgets": [widget for widget, _, _ in converted]}
    extras["dashboard"] = _extras(body, DASHBOARD_KEYS | {"description"})
    check_extras(extras)
    return report, extras


def check_extras(extras):
    """400 when the properties kept for the round trip (a dashboard's and its parts') outgrow
    ``DASHBOARD_MAX_EXTRA_BYTES`` as compact JSON."""
    limit = settings().DASHBOARD_MAX_EXTRA_BYTES
    size = len(json.dumps(extras, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8"))
    if size > limit:
        _invalid("body", f"the properties MaiaScore keeps without knowing them take {size} bytes; at most {limit} "
                         "are kept for a dashboard and its widgets (DASHBOARD_MAX_EXTRA_BYTES)")


def clone_in(doc, overrides):
    """The v6 body of a copy of ``doc`` (widget ids kept: they are unique within a report)."""
    overrides = overrides or {}
    title = overrides.get("title") or f"{doc['title']} (copy)"
    description = overrides.get("description")
    return {"title": title, "description": (doc.get("description") or "") if description is None else description,
            "widgets": [dict(widget) for widget in doc.get("widgets", [])]}


# --- dashboards out ----------------------------------------------------------------------


def _measured_out(stored, ext, out):
    """What a widget and its cards or columns answer alike: measure, filters, fixed timespan (:func:`_measured_in`)."""
    measure = _measure_out(stored.get("measure"))
    if measure:
        out["measure"] = measure
    if stored.get("filters"):
        out["filters"] = stored["filters"]
    timespan = _timespan_out(stored.get("fixedTimespan"), ext)
    if timespan:
        out["fixedTimespan"] = timespan


def _part_out(part, part_extras, kind):
    ext = {key: part[key] for key in ("dataSource", "metric", "metricGroup") if part.get(key)}
    out = dict(part_extras.get(part["id"], {}))
    out["id"] = part["id"]
    if kind == NUMBER and part.get("description") is not None:
        out["description"] = part["description"]
    _measured_out(part, ext, out)
    out[EXTENSION] = ext
    return out


def widget_out(widget, part_extras, self_href):
    ext = {"widgetId": widget["id"]}
    ext.update({key: widget[key] for key in ("dataSource", "metric", "metricGroup", "groupBy") if widget.get(key)})
    out = dict(part_extras.get(widget["id"], {}))
    out.update({"id": widget["id"], "type": widget["type"], "title": widget.get("title") or widget["type"],
                "visualMode": widget.get("visualMode") or "Full", "isEmbedded": bool(widget.get("isEmbedded"))})
    _measured_out(widget, ext, out)
    for key in ("sortBy", "sortDirection", "limit"):
        if widget.get(key) is not None:
            out[key] = widget[key]
    for key in ("numberCards", "multiMetricColumns"):
        if widget.get(key):
            out[key] = [_part_out(part, part_extras, widget["type"]) for part in widget[key]]
    out[EXTENSION] = ext
    out["apiLink"] = self_href
    out["_links"] = {"self": {"href": self_href}}
    return out


def _widgets_out(doc, extras, links):
    parts = (extras or {}).get("parts") or {}
    report_id = doc["reportId"]
    return [widget_out(widget, parts, links.url(f"/dashboards/{report_id}/widgets/{widget['id']}"))
            for widget in doc.get("widgets", [])]


def default_timespan(extras):
    stored = ((extras or {}).get("dashboard") or {}).get("defaultTimespan")
    return stored if isinstance(stored, dict) and stored else {"duration": DEFAULT_WINDOW_SECONDS}


def default_window(extras):
    """The dashboard's ``defaultTimespan.duration`` (seconds) decides a widget's range when none is asked."""
    duration = default_timespan(extras).get("duration") or default_timespan(extras).get("timespanDuration")
    return f"{duration}s" if isinstance(duration, int) and not isinstance(duration, bool) and duration > 0 else None


def _common(doc, user_id, extras, links):
    report_id = doc["reportId"]
    out = dict((extras or {}).get("dashboard") or {})
    out.update({
        "dashboardId": report_id,
        "aid": str(doc["aid"]),
        "title": doc["title"],
        "description": doc.get("description") or "",
        "isBuiltIn": bool(doc.get("isBuiltIn")),
        "isPrivate": False,
        "isDefaultForUser": user_id in doc.get("defaultForUsers", ()),
        "isDefaultForAccount": bool(doc.get("isDefaultForAccount")),
        "defaultTimespan": default_timespan(extras),
    })
    out["_links"] = {"self": links.href(f"/dashboards/{report_id}"),
                     "snapshots": links.href("/dashboard-snapshots", dashboardId=report_id)}
    return out


def dashboard_out(doc, user_id, extras, links):
    """The ``Dashboard`` shape (create, update, clone): people as strings, ISO dates."""
    out = _common(doc, user_id, extras, links)
    out.update({"createdBy": _as_str(doc.get("createdBy")), "modifiedBy": _as_str(doc.get("modifiedBy")),
                "modifiedDate": iso(doc.get("modified_at"))})
    out["widgets"] = _widgets_out(doc, extras, links)
    return _ordered(out)


def api_dashboard_out(doc, user_id, extras, links, with_widgets=True):
    """The ``ApiDashboard`` shape (get, list): v6's integer people and text date beside v7's."""
    out = _common(doc, user_id, extras, links)
    out.update({
        "accountId": doc["aid"],
        "createdBy": _as_int(doc.get("createdBy")),
        "modifiedBy": _as_int(doc.get("modifiedBy")),
        "modifiedDate": v6_text(doc.get("modified_at")),
        "dashboardCreatedBy": _as_str(doc.get("createdBy")),
        "dashboardModifiedBy": _as_str(doc.get("modifiedBy")),
        "dashboardModifiedDate": iso(doc.get("modified_at")),
    })
    if with_widgets:
        out["widgets"] = _widgets_out(doc, extras, links)
    return _ordered(out)


def _ordered(out):
    """Identity first, links last, nulls dropped: easier to read, and nothing the SDK needs is null."""
    first = ("dashboardId", "title", "description")
    ordered = {key: out[key] for key in first if key in out}
    ordered.update({key: value for key, value in out.items() if key not in first and key != "_links"})
    ordered["_links"] = out["_links"]
    return {key: value for key, value in ordered.items() if value is not None}


# --- widget data -------------------------------------------------------------------------


def _groups_out(groups):
    return [{"groupProperty": g.get("groupProperty"), "groupValue": g.get("groupId")} for g in groups or ()]


def _point(datum):
    point = {"timestamp": datum.get("binId"), "numberOfDataPoints": datum.get("count"), "value": datum.get("value"),
             "groups": _groups_out(datum.get("groups"))}
    if datum.get("distribution"):
        point["distribution"] = datum["distribution"]
    return point


def _card(datum, card, end, self_href):
    start = datetime.fromtimestamp(datum["binId"], timezone.utc)
    return {"cardId": datum["cardId"], "cardName": (card or {}).get("description") or (card or {}).get("metric"),
            "startDate": iso(start), "endDate": iso(end), "binSize": int((end - start).total_seconds()),
            "timestamp": datum["binId"], "numberOfDataPoints": datum.get("count"), "value": datum.get("value"),
            "_links": {"self": {"href": self_href}}}


def widget_data_out(body, widget, self_href, part_href):
    """A v6 widget-data body as ``ApiWidgetDataResponse``: points, cards or columns by widget type."""
    component = body.get("reportDataComponentData") or {}
    start, end = from_v6_text(body.get("from")), from_v6_text(body.get("to"))
    bin_size = component.get("binSize")
    data_points = component.get("data") or []
    if widget["type"] == NUMBER:
        cards = {card["id"]: card for card in widget.get("numberCards") or ()}
        data = {"cards": [_card(datum, cards.get(datum["cardId"]) or widget, end, part_href("cards", datum["cardId"]))
                          for datum in data_points]}
    elif widget["type"] == MULTI_METRIC_TABLE:
        columns = []
        for column in widget.get("multiMetricColumns") or ():
            points = [_point(datum) for datum in data_points if datum.get("columnId") == column["id"]]
            columns.append({"columnId": column["id"], "binSize": bin_size, "points": points,
                            "_links": {"self": {"href": part_href("columns", column["id"])}}})
        data = {"columns": columns}
    else:
        data = {"points": [_point(datum) for datum in data_points]}
    return {"startDate": iso(start), "endDate": iso(end), "binSize": bin_size,
            "groupLabels": component.get("groupLabelMaps") or [], "data": data,
            "_links": {"self": {"href": self_href}}}


def card_out(widget_data, card_id):
    for card in widget_data["data"].get("cards") or ():
        if card["cardId"] == card_id:
            return card
    return None


def column_out(widget_data, column_id):
    for column in widget_data["data"].get("columns") or ():
        if column["columnId"] == column_id:
            return column
    return None


# --- snapshots ---------------------------------------------------------------------------


def snapshot_out(doc, links, expires_at=None, with_widgets=False):
    """``ApiDashboardSnapshot``: the v6 snapshot with its frozen report as the ``dashboard``."""
    report = doc["report"]
    snapshot_id = doc["snapshotId"]
    duration = int((doc["end"] - doc["start"]).total_seconds())
    dashboard = {
        "dashboardId": report["reportId"], "title": report["title"], "description": report.get("description") or "",
        "isBuiltIn": bool(report.get("isBuiltIn")), "aid": str(doc["aid"]), "accountId": doc["aid"],
        "createdBy": _as_int(report.get("createdBy")), "modifiedBy": _as_int(report.get("modifiedBy")),
        "dashboardCreatedBy": _as_str(report.get("createdBy")),
        "dashboardModifiedBy": _as_str(report.get("modifiedBy")),
        "dashboardModifiedDate": iso(report.get("modified_at")),
        "_links": {"self": links.href(f"/dashboards/{report['reportId']}"),
                   "snapshots": links.href("/dashboard-snapshots", dashboardId=report["reportId"])},
    }
    out = {
        "snapshotId": snapshot_id,
        "snapshotName": doc["snapshotName"],
        "aid": str(doc["aid"]),
        "accountId": doc["aid"],
        "isShared": bool(doc.get("isShared")),
        "isScheduled": bool(doc.get("isScheduled")),
        "snapshotCreatedDate": iso(doc["created_at"]),
        "createdDate": v6_text(doc["created_at"]),
        "createdBy": _as_int(doc.get("createdBy")),
        "timeSpan": {"startDate": v6_text(doc["start"]), "start": iso(doc["start"]), "duration": duration},
        "dashboard": {key: value for key, value in dashboard.items() if value is not None},
        "snapshotExpirationDate": iso(expires_at),
        "expirationDate": v6_text(expires_at),
        "_links": {"self": links.href(f"/dashboard-snapshots/{snapshot_id}")},
    }
    if with_widgets:
        out["widgets"] = [widget_out(widget, {}, links.url(f"/dashboard-snapshots/{snapshot_id}/widgets/{widget['id']}"))
                          for widget in report.get("widgets") or ()]
    return {key: value for key, value in out.items() if value is not None}


def snapshot_created_out(doc, links):
    return {"snapshotId": doc["snapshotId"], "_links": {"self": links.href(f"/dashboard-snapshots/{doc['snapshotId']}")}}


def snapshot_range_in(body):
    """``startDate``/``endDate`` as the v6 ``from``/``to`` (7 days to now without them)."""
    start = parse_query_date(body.get("startDate"), "startDate")
    end = parse_query_date(body.get("endDate"), "endDate")
    if end and not start:
        start = end - timedelta(seconds=DEFAULT_WINDOW_SECONDS)
    return v6_query_date(start), v6_query_date(end)


def expiry_in(body):
    raw = body.get("snapshotExpirationDate") or body.get("expirationDate")
    if raw in (None, ""):
        raise Invalid("snapshotExpirationDate is required", errors=[
            {"code": "REQUIRED", "field": "snapshotExpirationDate", "message": "an ISO-8601 date-time"}])
    return parse_query_date(raw, "snapshotExpirationDate")


# --- dashboard filters -------------------------------------------------------------------


def filter_in(body):
    if not isinstance(body, dict):
        raise Invalid("The body must be a JSON object (a dashboard filter)")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name is required", errors=[{"code": "REQUIRED", "field": "name",
                                                    "message": "a dashboard filter needs a name"}])
    context = body.get("context")
    if not isinstance(context, list):
        raise Invalid("context is required", errors=[{"code": "REQUIRED", "field": "context",
                                                       "message": "a list of {dataSourceId, filters}"}])
    for index, item in enumerate(context):
        if not isinstance(item, dict) or not isinstance(item.get("dataSourceId"), str) \
                or not isinstance(item.get("filters"), list):
            _invalid(f"context[{index}]", "must be {dataSourceId, filters: [{filterId, values, metricIds}]}")
    description = body.get("description")
    if description is not None and not isinstance(description, str):
        _invalid("description", "must be text")
    return {"name": name.strip(), "description": description, "context": context}


def filter_out(doc, links):
    out = {"id": doc["filterId"], "aid": str(doc["aid"]), "name": doc["name"], "description": doc.get("description"),
           "context": doc["context"], "createdBy": doc.get("createdBy"), "modifiedBy": doc.get("modifiedBy"),
           "createdDate": iso(doc.get("created_at")), "modifiedDate": iso(doc.get("modified_at")),
           "_links": {"self": links.href(f"/dashboards/filters/{doc['filterId']}")}}
    return {key: value for key, value in out.items() if value is not None}
