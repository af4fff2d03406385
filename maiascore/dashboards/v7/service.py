"""v7 dashboards over the v6 report store: the one module that calls the dashboards service.

Both families read and write the same ``dashboards`` and ``report_snapshots`` documents.
What v7 knows and v6 does not lives beside them, keyed by the report: the fields v7 keeps
for the round trip (``dashboard_v7_extras``: ``{aid, reportId, dashboard, parts: {id: {...}}}``),
snapshot expiry dates (``dashboard_v7_snapshots``) and the dashboard filters
(``dashboard_filters``), which v6 never had.
"""
import uuid

from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.dashboards import service as reports
from maiascore.dashboards import snapshots
from maiascore.dashboards.v7 import mapping
from maiascore.errors import Forbidden, NotFound

EXTRAS = "dashboard_v7_extras"
SNAPSHOT_EXPIRY = "dashboard_v7_snapshots"
FILTERS = "dashboard_filters"


# --- extras ------------------------------------------------------------------------------


def _extras_of(aid, report_ids):
    docs = get_db()[EXTRAS].find({"aid": aid, "reportId": {"$in": list(report_ids)}})
    return {doc["reportId"]: doc for doc in docs}


def _extras(aid, report_id):
    return get_db()[EXTRAS].find_one({"aid": aid, "reportId": report_id}) or {}


def _save_extras(aid, report_id, extras):
    get_db()[EXTRAS].update_one({"aid": aid, "reportId": report_id},
                                {"$set": {"dashboard": extras.get("dashboard") or {},
                                          "parts": extras.get("parts") or {}}}, upsert=True)


# --- dashboards --------------------------------------------------------------------------


def list_dashboards(aid):
    """The group's reports (built-ins first) with their extras."""
    docs = reports.list_reports(aid)
    extras = _extras_of(aid, [doc["reportId"] for doc in docs])
    return [(doc, extras.get(doc["reportId"], {})) for doc in docs]


def get_dashboard(aid, dashboard_id):
    doc = reports.get_report(aid, dashboard_id)
    return doc, _extras(aid, doc["reportId"])


def create_dashboard(aid, user_id, body, may_set_account_default):
    report, extras = mapping.dashboard_in(body)
    doc = reports.create_report(aid, user_id, report, may_set_account_default)
    _save_extras(aid, doc["reportId"], extras)
    return doc, extras


def update_dashboard(aid, dashboard_id, user_id, body, may_edit_all, may_set_account_default):
    """A full replace that keeps the ids of the widgets it recognises (see ``mapping.dashboard_in``)."""
    current = reports.get_report(aid, dashboard_id)
    report, extras = mapping.dashboard_in(body, current.get("widgets") or [])
    doc = reports.update_report(aid, dashboard_id, user_id, report, may_edit_all, may_set_account_default)
    _save_extras(aid, doc["reportId"], extras)
    return doc, extras


def clone_dashboard(aid, dashboard_id, user_id, overrides, may_set_account_default):
    """A copy the caller owns; built-in dashboards may be cloned, which is how one edits them."""
    source = reports.get_report(aid, dashboard_id)
    source_extras = _extras(aid, source["reportId"])
    extras = {"dashboard": dict(source_extras.get("dashboard") or {}), "parts": source_extras.get("parts") or {}}
    for key in ("defaultTimespan", "layout", "refreshRate", "globalFilterId", "isGlobalOverride"):
        if (overrides or {}).get(key) is not None:
            extras["dashboard"][key] = overrides[key]
    mapping.check_extras(extras)
    doc = reports.create_report(aid, user_id, mapping.clone_in(source, overrides), may_set_account_default)
    _save_extras(aid, doc["reportId"], extras)
    return doc, extras


def delete_dashboard(aid, dashboard_id, user_id, may_edit_all):
    reports.delete_report(aid, dashboard_id, user_id, may_edit_all)
    get_db()[EXTRAS].delete_one({"aid": aid, "reportId": str(dashboard_id)})


def _find_widget(doc, widget_id):
    for widget in doc.get("widgets", []):
        if widget["id"] == widget_id:
            return widget
    raise NotFound(f"Widget {widget_id} not found in dashboard {doc['reportId']}")


def widget_data(aid, dashboard_id, widget_id, window, start, end):
    """The v6 data of one widget and the widget; the dashboard's default timespan when no range is asked."""
    doc, extras = get_dashboard(aid, dashboard_id)
    widget = _find_widget(doc, widget_id)
    if not (window or start or end):
        window = mapping.default_window(extras)
    body = reports.report_widget_data(aid, doc["reportId"], widget_id, window, mapping.v6_query_date(start),
                                      mapping.v6_query_date(end))
    return body, widget


# --- snapshots ---------------------------------------------------------------------------


def _expiry_of(aid, snapshot_ids):
    docs = get_db()[SNAPSHOT_EXPIRY].find({"aid": aid, "snapshotId": {"$in": list(snapshot_ids)}})
    return {doc["snapshotId"]: doc.get("expiresAt") for doc in docs}


def _expired(expires_at):
    if expires_at is None:
        return False
    if expires_at.tzinfo is None:
        return expires_at <= utcnow().replace(tzinfo=None)
    return expires_at <= utcnow()


def create_snapshot(aid, user_id, body):
    start, end = mapping.snapshot_range_in(body)
    v6_body = {"reportId": str(body.get("dashboardId") or ""), "displayName": body.get("displayName"),
               "from": start, "to": end}
    doc = snapshots.create_snapshot(aid, user_id, v6_body)
    if body.get("expirationDate") or body.get("snapshotExpirationDate"):
        _set_expiry(aid, doc["snapshotId"], mapping.expiry_in(body))
    return doc


def list_snapshots(aid, dashboard_id, page):
    """One page (newest first) without the expired snapshots, whether another follows, and expiry dates."""
    docs, more = snapshots.list_snapshots(aid, dashboard_id, page)
    expiry = _expiry_of(aid, [doc["snapshotId"] for doc in docs])
    return [(doc, expiry.get(doc["snapshotId"])) for doc in docs if not _expired(expiry.get(doc["snapshotId"]))], more


def get_snapshot(aid, snapshot_id):
    doc = snapshots.get_snapshot(aid, snapshot_id)
    expires_at = _expiry_of(aid, [doc["snapshotId"]]).get(doc["snapshotId"])
    if _expired(expires_at):
        raise NotFound(f"Dashboard snapshot {snapshot_id} has expired")
    return doc, expires_at


def snapshot_widget_data(aid, snapshot_id, widget_id):
    doc, _ = get_snapshot(aid, snapshot_id)
    widget = None
    for candidate in (doc.get("report") or {}).get("widgets") or ():
        if candidate["id"] == widget_id:
            widget = candidate
    if widget is None:
        raise NotFound(f"Widget {widget_id} not found in dashboard snapshot {snapshot_id}")
    return snapshots.snapshot_widget_data(aid, snapshot_id, widget_id), widget


def delete_snapshot(aid, snapshot_id, user_id, may_edit_all):
    snapshots.delete_snapshot(aid, snapshot_id, user_id, may_edit_all)
    get_db()[SNAPSHOT_EXPIRY].delete_one({"aid": aid, "snapshotId": str(snapshot_id)})


def _set_expiry(aid, snapshot_id, expires_at):
    get_db()[SNAPSHOT_EXPIRY].update_one({"aid": aid, "snapshotId": snapshot_id},
                                         {"$set": {"expiresAt": expires_at}}, upsert=True)


def update_snapshot_expiry(aid, snapshot_id, user_id, body, may_edit_all):
    doc, _ = get_snapshot(aid, snapshot_id)
    if doc.get("createdBy") != user_id and not may_edit_all:
        raise Forbidden(f"Dashboard snapshot {snapshot_id} belongs to another user; changing it requires the "
                        "permission 'Edit reports for all users in account group'")
    _set_expiry(aid, doc["snapshotId"], mapping.expiry_in(body))


# --- dashboard filters -------------------------------------------------------------------


def _person(user):
    return {"uid": str(user["_id"]), "name": user.get("username") or user.get("email") or str(user["_id"])}


def list_filters(aid, search=None):
    query = {"aid": aid}
    docs = list(get_db()[FILTERS].find(query).sort("created_at", 1))
    if search:
        needle = search.lower()
        docs = [doc for doc in docs
                if needle in doc["name"].lower() or needle in (doc.get("description") or "").lower()]
    return docs


def get_filter(aid, filter_id):
    doc = get_db()[FILTERS].find_one({"aid": aid, "filterId": str(filter_id)})
    if doc is None:
        raise NotFound(f"Dashboard filter {filter_id} not found")
    return doc


def create_filter(aid, user, body):
    fields = mapping.filter_in(body)
    now = utcnow()
    doc = {"aid": aid, "filterId": uuid.uuid4().hex, **fields, "createdBy": _person(user),
           "modifiedBy": _person(user), "ownerId": user["_id"], "created_at": now, "modified_at": now}
    get_db()[FILTERS].insert_one(doc)
    return doc


def _check_owner(doc, user, may_edit_all):
    if doc.get("ownerId") != user["_id"] and not may_edit_all:
        raise Forbidden(f"Dashboard filter {doc['filterId']} belongs to another user; changing it requires the "
                        "permission 'Edit reports for all users in account group'")


def update_filter(aid, filter_id, user, body, may_edit_all):
    doc = get_filter(aid, filter_id)
    _check_owner(doc, user, may_edit_all)
    fields = mapping.filter_in(body)
    get_db()[FILTERS].update_one({"_id": doc["_id"]}, {"$set": {**fields, "modifiedBy": _person(user),
                                                                "modified_at": utcnow()}})
    return get_filter(aid, filter_id)


def delete_filter(aid, filter_id, user, may_edit_all):
    doc = get_filter(aid, filter_id)
    _check_owner(doc, user, may_edit_all)
    get_db()[FILTERS].delete_one({"_id": doc["_id"]})
