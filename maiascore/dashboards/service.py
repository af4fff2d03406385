"""Reports (dashboards): storage, ownership rules, defaults and the v6 shape they leave in.

A report lives in ``dashboards`` as ``{aid, reportId, seq, title, description, isBuiltIn,
builtinKey, widgets, createdBy, modifiedBy, created_at, modified_at, defaultForUsers,
isDefaultForAccount}``. ``isDefaultForUser`` is per viewer: the report is the default of
every user listed in ``defaultForUsers``, and a user has at most one.
"""
from urllib.parse import urlencode

from pymongo import ReturnDocument

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.costs import bounded_reads, heavy_read
from maiascore.dashboards import builtin
from maiascore.dashboards.cache import cached
from maiascore.dashboards.documents import new_report
from maiascore.dashboards.planner import Context
from maiascore.dashboards.shaping import widget_data, widget_range
from maiascore.dashboards.timerange import parse_time_range, v6_datetime
from maiascore.dashboards.widgets import clean_widgets
from maiascore.errors import Forbidden, NotFound


class Links:
    """Absolute API links, from the request's own scheme and host (and its ``aid``, if it named one)."""

    def __init__(self, host_url, aid=None):
        self.base = host_url.rstrip("/") + "/v6"
        self.query = "?" + urlencode({"aid": aid}) if aid not in (None, "") else ""

    def _url(self, path, **params):
        if params:
            query = urlencode(params)
            return f"{self.base}{path}{self.query + '&' if self.query else '?'}{query}"
        return f"{self.base}{path}{self.query}"

    def report(self, report_id):
        return self._url(f"/reports/{report_id}")

    def widget(self, report_id, widget_id):
        return self._url(f"/reports/{report_id}/{widget_id}")

    def snapshots_of(self, report_id):
        return self._url("/report-snapshots", reportId=report_id)

    def snapshots_page(self, page, report_id=None):
        params = {"page": page}
        if report_id:
            params["reportId"] = report_id
        return self._url("/report-snapshots", **params)

    def snapshot(self, snapshot_id):
        return self._url(f"/report-snapshots/{snapshot_id}")

    def snapshot_widget(self, snapshot_id, widget_id):
        return self._url(f"/report-snapshots/{snapshot_id}/{widget_id}")


def report_links(doc, links):
    report_id = doc["reportId"]
    return ([{"rel": "self", "href": links.report(report_id)}]
            + [{"rel": "data", "href": links.widget(report_id, w["id"])} for w in doc.get("widgets", [])]
            + [{"rel": "snapshots", "href": links.snapshots_of(report_id)}])


def linked(doc, user_id, links):
    """A stored report with what only the request knows: its links and whether it is the caller's
    default (V6ReportSchema shows the rest)."""
    report_id = doc["reportId"]
    return dict(doc, isDefaultForUser=user_id in doc.get("defaultForUsers", ()),
                widgets=[dict(w, apiLink=links.widget(report_id, w["id"])) for w in doc.get("widgets", [])],
                apiLinks=report_links(doc, links))


def list_reports(aid):
    """The group's reports, oldest first; built-ins are created here for groups that predate them."""
    db = get_db()
    docs = list(db.dashboards.find({"aid": aid}).sort("seq", 1))
    present = {doc.get("builtinKey") for doc in docs if doc.get("isBuiltIn")}
    if not builtin.all_present(present):
        builtin.ensure_builtin_reports(aid, db)
        docs = list(db.dashboards.find({"aid": aid}).sort("seq", 1))
    return docs


def get_report(aid, report_id):
    doc = get_db().dashboards.find_one({"aid": aid, "reportId": str(report_id)})
    if doc is None:
        raise NotFound(f"Report {report_id} not found")
    return doc


def _check_account_default(wanted, current, may_set_account_default):
    if wanted is None or bool(wanted) == bool(current):
        return
    if not may_set_account_default:
        raise Forbidden("Only Account Admins (permission 'Edit reports for all users in account group') "
                        "can change the account group's default report")


def _apply_defaults(db, doc, user_id, for_user, for_account):
    """One default per user and one per group: setting it here clears it on the group's other reports."""
    aid, report_id = doc["aid"], doc["reportId"]
    if for_user is True:
        db.dashboards.update_one({"_id": doc["_id"]}, {"$addToSet": {"defaultForUsers": user_id}})
        db.dashboards.update_many({"aid": aid, "reportId": {"$ne": report_id}, "defaultForUsers": user_id},
                                  {"$pull": {"defaultForUsers": user_id}})
    elif for_user is False:
        db.dashboards.update_one({"_id": doc["_id"]}, {"$pull": {"defaultForUsers": user_id}})
    if for_account is True:
        db.dashboards.update_one({"_id": doc["_id"]}, {"$set": {"isDefaultForAccount": True}})
        db.dashboards.update_many({"aid": aid, "reportId": {"$ne": report_id}, "isDefaultForAccount": True},
                                  {"$set": {"isDefaultForAccount": False}})
    elif for_account is False:
        db.dashboards.update_one({"_id": doc["_id"]}, {"$set": {"isDefaultForAccount": False}})
    return db.dashboards.find_one({"_id": doc["_id"]})


def create_report(aid, user_id, body, may_set_account_default):
    _check_account_default(body.get("isDefaultForAccount"), False, may_set_account_default)
    widgets = clean_widgets(body.get("widgets") or [])
    db = get_db()
    doc = new_report(db, aid, body["title"], body.get("description") or "", widgets, user_id)
    doc["_id"] = db.dashboards.insert_one(doc).inserted_id
    return _apply_defaults(db, doc, user_id, body.get("isDefaultForUser"), body.get("isDefaultForAccount"))


def _check_may_change(doc, user_id, may_edit_all, verb):
    if doc.get("isBuiltIn"):
        raise Forbidden(f"Report {doc['reportId']} is built in and cannot be {verb}; create your own report instead")
    if doc.get("createdBy") != user_id and not may_edit_all:
        raise Forbidden(f"Report {doc['reportId']} belongs to another user; changing it requires the permission "
                        "'Edit reports for all users in account group'")


def update_report(aid, report_id, user_id, body, may_edit_all, may_set_account_default):
    """Full replace of title, description and widgets (v6 semantics); default flags change only when sent."""
    doc = get_report(aid, report_id)
    _check_may_change(doc, user_id, may_edit_all, "modified")
    _check_account_default(body.get("isDefaultForAccount"), doc.get("isDefaultForAccount"), may_set_account_default)
    widgets = clean_widgets(body.get("widgets") or [])
    db = get_db()
    doc = db.dashboards.find_one_and_update(
        {"_id": doc["_id"]},
        {"$set": {"title": body["title"], "description": body.get("description") or "", "widgets": widgets,
                  "modifiedBy": user_id, "modified_at": utcnow()}},
        return_document=ReturnDocument.AFTER)
    if doc is None:
        raise NotFound(f"Report {report_id} not found")
    return _apply_defaults(db, doc, user_id, body.get("isDefaultForUser"), body.get("isDefaultForAccount"))


def delete_report(aid, report_id, user_id, may_edit_all):
    doc = get_report(aid, report_id)
    _check_may_change(doc, user_id, may_edit_all, "deleted")
    get_db().dashboards.delete_one({"_id": doc["_id"]})


def find_widget(doc, widget_id):
    for widget in doc.get("widgets", []):
        if widget["id"] == widget_id:
            return widget
    raise NotFound(f"Widget {widget_id} not found in report {doc['reportId']}")


def report_widget_data(aid, report_id, widget_id, window=None, start=None, end=None):
    """A widget's data; over more than HEAVY_WIDGET_DAYS it is a heavy read (``maiascore.costs``)."""
    widget = find_widget(get_report(aid, report_id), widget_id)
    time_range = parse_time_range(window, start, end)
    days = widget_range(widget, time_range).seconds / 86400

    def compute():
        if days <= settings().HEAVY_WIDGET_DAYS:
            with bounded_reads():
                return widget_data(Context(get_db(), aid), widget, time_range)
        with heavy_read(aid, f"widget data over {days:g} days (more than HEAVY_WIDGET_DAYS)"), bounded_reads(True):
            return widget_data(Context(get_db(), aid), widget, time_range)

    return cached(aid, widget, [window, start, end], compute)
