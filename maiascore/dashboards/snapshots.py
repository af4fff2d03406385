"""Report snapshots: every widget's data frozen for one timespan at the moment of creation.

A snapshot keeps a copy of the report as it was (title, widgets) next to the data, so
later edits or the report's deletion change nothing in it. Stored in
``report_snapshots`` as ``{aid, snapshotId, snapshotName, report, start, end, data:
{widgetId: body}, isShared, isScheduled, createdBy, created_at}``.
"""
import uuid
from contextlib import nullcontext

from pymongo.errors import DocumentTooLarge

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.costs import bounded_reads, heavy_read
from maiascore.dashboards.planner import Context, prepare
from maiascore.dashboards.service import get_report
from maiascore.dashboards.shaping import widget_data
from maiascore.dashboards.timerange import TimeRange, check_seconds, parse_date, parse_time_range, v6_datetime
from maiascore.dashboards.widgets import ID_PATTERN
from maiascore.errors import Forbidden, Invalid, NotFound

PAGE_SIZE = 100
MAX_PAGE = 10**9  # a billion pages of 100: far past any group, and a skip far inside 64 bits
SUMMARY_PROJECTION = {"data": 0}


def snapshot_range(body):
    """``from``/``to``, ``window`` or v6's ``timeSpan {startDate, duration}``; 7 days by default."""
    span = body.get("timeSpan")
    if span:
        if body.get("from") or body.get("to") or body.get("window"):
            raise Invalid("timeSpan and from/to/window are mutually exclusive: send one of them")
        start = parse_date(span.get("startDate"), "timeSpan.startDate")
        raw = span.get("duration")
        duration = int(raw) if isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit()) else 0
        if isinstance(raw, bool) or duration <= 0:
            raise Invalid("timeSpan.duration must be a positive number of seconds")
        return TimeRange(start, start + check_seconds(duration, "timeSpan.duration"))
    return parse_time_range(body.get("window"), body.get("from"), body.get("to"))


def create_snapshot(aid, user_id, body):
    report = get_report(aid, body["reportId"])
    time_range = snapshot_range(body)
    ctx = Context(get_db(), aid)
    widgets = report.get("widgets", [])
    days = time_range.seconds / 86400
    heavy = days > settings().HEAVY_WIDGET_DAYS
    cost = heavy_read(aid, f"a snapshot over {days:g} days (more than HEAVY_WIDGET_DAYS)") if heavy else nullcontext()
    with cost, bounded_reads(heavy):
        data = prepare(ctx, lambda: {widget["id"]: widget_data(ctx, widget, time_range) for widget in widgets})
    doc = {
        "aid": aid,
        "snapshotId": str(uuid.uuid4()),
        "snapshotName": body.get("snapshotName") or body.get("displayName") or report["title"],
        "report": {key: report.get(key) for key in ("reportId", "title", "description", "isBuiltIn", "createdBy",
                                                      "modifiedBy", "modified_at", "widgets")},
        "start": time_range.start,
        "end": time_range.end,
        "data": data,
        "isShared": False,
        "isScheduled": False,
        "createdBy": user_id,
        "created_at": utcnow(),
    }
    try:
        get_db().report_snapshots.insert_one(doc)
    except DocumentTooLarge:
        raise Invalid("This snapshot's data exceeds 16 MB; choose a shorter timespan or fewer grouped widgets")
    return doc


def list_snapshots(aid, report_id=None, page=1):
    """One page, newest first, and whether another follows."""
    if page > MAX_PAGE:
        raise Invalid(f"page must be at most {MAX_PAGE}")
    query = {"aid": aid}
    if report_id:
        query["report.reportId"] = str(report_id)
    cursor = (get_db().report_snapshots.find(query, SUMMARY_PROJECTION).sort([("created_at", -1), ("_id", -1)])
              .skip((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1))
    docs = list(cursor)
    return docs[:PAGE_SIZE], len(docs) > PAGE_SIZE


def snapshot_page(aid, report_id, page, links):
    """The v6 list body: a page of snapshots and, when another follows, its link."""
    docs, more = list_snapshots(aid, report_id, page)
    pages = {"current": page}
    if more:
        pages["next"] = links.snapshots_page(page + 1, report_id)
    return {"pages": pages, "reportSnapshots": [linked(doc, links) for doc in docs]}


def get_snapshot(aid, snapshot_id, projection=SUMMARY_PROJECTION):
    doc = get_db().report_snapshots.find_one({"aid": aid, "snapshotId": str(snapshot_id)}, projection)
    if doc is None:
        raise NotFound(f"Report snapshot {snapshot_id} not found")
    return doc


def snapshot_widget_data(aid, snapshot_id, widget_id):
    if not ID_PATTERN.match(widget_id or ""):
        raise NotFound(f"Widget {widget_id} not found in report snapshot {snapshot_id}")
    doc = get_snapshot(aid, snapshot_id, {f"data.{widget_id}": 1})
    data = (doc.get("data") or {}).get(widget_id)
    if data is None:
        raise NotFound(f"Widget {widget_id} not found in report snapshot {snapshot_id}")
    return data


def delete_snapshot(aid, snapshot_id, user_id, may_edit_all):
    doc = get_snapshot(aid, snapshot_id, {"createdBy": 1})
    if doc.get("createdBy") != user_id and not may_edit_all:
        raise Forbidden(f"Report snapshot {snapshot_id} belongs to another user; deleting it requires the permission "
                        "'Edit reports for all users in account group'")
    get_db().report_snapshots.delete_one({"_id": doc["_id"]})


def linked(doc, links, with_widgets=False):
    """A stored snapshot with what only the request knows: its links, and with ``with_widgets`` its
    report's widgets each with the link to its frozen data (SnapshotSchema shows the rest)."""
    snapshot_id = doc["snapshotId"]
    widgets = doc["report"].get("widgets") or []
    out = dict(doc, reportLinks=[{"rel": "self", "href": links.report(doc["report"]["reportId"])}],
               apiLinks=([{"rel": "self", "href": links.snapshot(snapshot_id)}]
                         + [{"rel": "data", "href": links.snapshot_widget(snapshot_id, w["id"])} for w in widgets]))
    if with_widgets:
        out["widgets"] = [dict(w, apiLink=links.snapshot_widget(snapshot_id, w["id"])) for w in widgets]
    return out
