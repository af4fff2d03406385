"""ThousandEyes v6 reports: dashboards, their widgets' data and report snapshots."""
from flask import g, request
from flask.views import MethodView

from maiascore.accounts.permissions import EDIT_ALL_REPORTS, EDIT_REPORTS, VIEW_REPORTS
from maiascore.auth.access import can, requires
from maiascore.dashboards import schemas, service, snapshots
from maiascore.dashboards.options import widget_options
from maiascore.http.api import Blueprint
from maiascore.http.bodies import body_at_most

blp = Blueprint("dashboards", __name__, url_prefix="/v6",
                description="Reports (dashboards), widget data and report snapshots, ThousandEyes v6 style")
blp.before_request(body_at_most("DASHBOARD_MAX_BYTES", "a report"))


def _links():
    return service.Links(request.host_url, request.args.get("aid"))


def _report(doc):
    return service.linked(doc, g.user["_id"], _links())


@blp.route("/reports")
class Reports(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.V6ReportSummarySchema(many=True))
    def get(self):
        """The account group's reports, built-in ones first, without their widgets."""
        return [_report(doc) for doc in service.list_reports(g.aid)]


@blp.route("/widget-options")
class WidgetOptions(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.WidgetOptionsSchema)
    def get(self):
        """What a widget may be made of: types, data sources with their metrics, groupings and filter
        values, measures and visual modes; exactly what ``/reports/create`` accepts."""
        return widget_options()


@blp.route("/reports/create")
class CreateReport(MethodView):
    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V6ReportSchema)
    @blp.response(200, schemas.V6ReportSchema(many=True))
    @blp.alt_response(400, schema="Error", description="A widget is invalid; the message names it")
    def post(self, body):
        """Create a report, with or without widgets; answers a list holding the created report, as v6 does."""
        doc = service.create_report(g.aid, g.user["_id"], body, can(EDIT_ALL_REPORTS))
        return [_report(doc)]


@blp.route("/reports/<report_id>")
class Report(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.V6ReportSchema)
    @blp.alt_response(404, schema="Error", description="No such report in this account group")
    def get(self, report_id):
        """One report with its widgets."""
        return _report(service.get_report(g.aid, report_id))


@blp.route("/reports/<report_id>/update")
class UpdateReport(MethodView):
    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V6ReportSchema)
    @blp.response(200, schemas.V6ReportSchema(many=True))
    @blp.alt_response(403, schema="Error", description="Built-in report, or another user's without the "
                                                       "'Edit reports for all users in account group' permission")
    @blp.alt_response(404, schema="Error", description="No such report in this account group")
    def post(self, body, report_id):
        """Replace a report's title, description and widgets (a full update); answers a list, as v6 does."""
        doc = service.update_report(g.aid, report_id, g.user["_id"], body, can(EDIT_ALL_REPORTS),
                                    can(EDIT_ALL_REPORTS))
        return [_report(doc)]


@blp.route("/reports/<report_id>/delete")
class DeleteReport(MethodView):
    @requires(EDIT_REPORTS)
    @blp.response(204)
    @blp.alt_response(403, schema="Error", description="Built-in report, or another user's without the "
                                                       "'Edit reports for all users in account group' permission")
    @blp.alt_response(404, schema="Error", description="No such report in this account group")
    def post(self, report_id):
        """Delete one's own report (or anyone's, with 'Edit reports for all users in account group')."""
        service.delete_report(g.aid, report_id, g.user["_id"], can(EDIT_ALL_REPORTS))
        return None


@blp.route("/reports/<report_id>/<widget_id>")
class WidgetData(MethodView):
    @requires(VIEW_REPORTS)
    @blp.arguments(schemas.WidgetDataQuerySchema, location="query")
    @blp.response(200, schemas.WidgetDataSchema)
    @blp.alt_response(400, schema="Error", description="Bad or too long time range")
    @blp.alt_response(404, schema="Error", description="No such report or widget in this account group")
    def get(self, query, report_id, widget_id):
        """A widget's data over ``window`` or ``from``/``to`` (default 7 days), binned as v6 bins."""
        return service.report_widget_data(g.aid, report_id, widget_id, query.get("window"), query.get("from"),
                                          query.get("to"))


@blp.route("/report-snapshots")
class Snapshots(MethodView):
    @requires(VIEW_REPORTS)
    @blp.arguments(schemas.SnapshotListQuerySchema, location="query")
    @blp.response(200, schemas.SnapshotListSchema)
    def get(self, query):
        """The group's report snapshots, newest first, 100 a page."""
        return snapshots.snapshot_page(g.aid, query.get("reportId"), query["page"], _links())


@blp.route("/report-snapshots/create")
class CreateSnapshot(MethodView):
    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.SnapshotCreateSchema)
    @blp.response(200, schemas.SnapshotSchema)
    @blp.alt_response(404, schema="Error", description="No such report in this account group")
    def post(self, body):
        """Freeze every widget's data of a report for a timespan (``from``/``to``, ``window`` or ``timeSpan``)."""
        doc = snapshots.create_snapshot(g.aid, g.user["_id"], body)
        return snapshots.linked(doc, _links(), with_widgets=True)


@blp.route("/report-snapshots/<snapshot_id>")
class Snapshot(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.SnapshotDetailSchema)
    @blp.alt_response(404, schema="Error", description="No such snapshot in this account group")
    def get(self, snapshot_id):
        """One snapshot with the report's widgets as they were."""
        doc = snapshots.get_snapshot(g.aid, snapshot_id)
        return {"reportSnapshots": [snapshots.linked(doc, _links(), with_widgets=True)]}


@blp.route("/report-snapshots/<snapshot_id>/delete")
class DeleteSnapshot(MethodView):
    @requires(EDIT_REPORTS)
    @blp.response(204)
    @blp.alt_response(403, schema="Error", description="Another user's snapshot without the "
                                                       "'Edit reports for all users in account group' permission")
    @blp.alt_response(404, schema="Error", description="No such snapshot in this account group")
    def post(self, snapshot_id):
        """Delete one's own snapshot (or anyone's, with 'Edit reports for all users in account group')."""
        snapshots.delete_snapshot(g.aid, snapshot_id, g.user["_id"], can(EDIT_ALL_REPORTS))
        return None


@blp.route("/report-snapshots/<snapshot_id>/<widget_id>")
class SnapshotWidgetData(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.WidgetDataSchema)
    @blp.alt_response(404, schema="Error", description="No such snapshot or widget in this account group")
    def get(self, snapshot_id, widget_id):
        """A widget's data as frozen in the snapshot."""
        return snapshots.snapshot_widget_data(g.aid, snapshot_id, widget_id)
