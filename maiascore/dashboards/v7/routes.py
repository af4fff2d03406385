"""ThousandEyes API v7 dashboards: the routes the official ``thousandeyes-sdk-dashboards`` calls."""
from flask import g, request
from flask.views import MethodView

from maiascore.accounts.permissions import EDIT_ALL_REPORTS, EDIT_REPORTS, VIEW_REPORTS
from maiascore.dashboards.v7 import mapping, schemas, service
from maiascore.auth.access import can, requires
from maiascore.http.api import Blueprint
from maiascore.http.hal import HAL, hal, problems
from maiascore.http.bodies import body_at_most
from maiascore.http.errors import abort
from maiascore.http.fields import query_integer

blp = Blueprint("dashboards_v7", __name__, url_prefix="/v7",
                description="Dashboards, widget data, dashboard snapshots and dashboard filters, ThousandEyes v7 "
                            "style (the same stored reports as /v6: a dashboardId is a reportId)")
blp.before_request(body_at_most("DASHBOARD_MAX_BYTES", "a dashboard"))

SCHEDULES_MESSAGE = ("Scheduled snapshots are not implemented: create snapshots with POST /v7/dashboard-snapshots "
                     "when you want them")


def _problems(*codes):
    return problems(blp, schemas.V7ProblemSchema, *codes)


def _links():
    return mapping.Links(request.host_url, request.args.get("aid"))


def _no_content():
    return "", 204


def _data_out(body, widget, base):
    """A widget's data linked to ``base``, its cards and columns below it."""
    links = _links()
    return mapping.widget_data_out(body, widget, links.url(base),
                                   lambda kind, part_id: links.url(f"{base}/{kind}/{part_id}"))


def _widget_data(dashboard_id, widget_id, query):
    window, start, end = mapping.range_in(query)
    body, widget = service.widget_data(g.aid, dashboard_id, widget_id, window, start, end)
    return _data_out(body, widget, f"/dashboards/{dashboard_id}/widgets/{widget_id}")


def _widget_part(part_out, noun, part_id, dashboard_id, widget_id, query):
    """One card or column of a widget's data (``part_out`` picks it); 404 when the widget has none so named."""
    part = part_out(_widget_data(dashboard_id, widget_id, query), part_id)
    if part is None:
        abort(404, f"{noun} {part_id} not found in widget {widget_id} of dashboard {dashboard_id}")
    return hal(part)


@blp.route("/dashboards")
class Dashboards(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.V7ApiDashboardSchema(many=True), content_type=HAL)
    def get(self):
        """The account group's dashboards (built-in ones first), without their widgets."""
        links = _links()
        return hal([mapping.api_dashboard_out(doc, g.user["_id"], extras, links, with_widgets=False)
                     for doc, extras in service.list_dashboards(g.aid)])

    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V7DashboardSchema)
    @blp.response(201, schemas.V7DashboardSchema, content_type=HAL)
    @_problems(400)
    def post(self, body):
        """Create a dashboard; MaiaScore's data source, metric and group-by travel in each widget's ``maiascore``."""
        doc, extras = service.create_dashboard(g.aid, g.user["_id"], body, can(EDIT_ALL_REPORTS))
        return hal(mapping.dashboard_out(doc, g.user["_id"], extras, _links()), 201)


@blp.route("/dashboards/<dashboard_id>")
class Dashboard(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.V7ApiDashboardSchema, content_type=HAL)
    @_problems(404)
    def get(self, dashboard_id):
        """One dashboard with its widgets."""
        doc, extras = service.get_dashboard(g.aid, dashboard_id)
        return hal(mapping.api_dashboard_out(doc, g.user["_id"], extras, _links()))

    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V7DashboardSchema)
    @blp.response(200, schemas.V7DashboardSchema, content_type=HAL)
    @_problems(400, 403, 404)
    def put(self, body, dashboard_id):
        """Replace a dashboard; widgets keep their ids (``maiascore.widgetId``, else same position and type)."""
        doc, extras = service.update_dashboard(g.aid, dashboard_id, g.user["_id"], body, can(EDIT_ALL_REPORTS),
                                               can(EDIT_ALL_REPORTS))
        return hal(mapping.dashboard_out(doc, g.user["_id"], extras, _links()))

    @requires(EDIT_REPORTS)
    @blp.response(204)
    @_problems(403, 404)
    def delete(self, dashboard_id):
        """Delete one's own dashboard (or anyone's, with 'Edit reports for all users in account group')."""
        service.delete_dashboard(g.aid, dashboard_id, g.user["_id"], can(EDIT_ALL_REPORTS))
        return _no_content()


@blp.route("/dashboards/<dashboard_id>/clone")
class Clone(MethodView):
    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V7CloneSchema, required=False)
    @blp.response(201, schemas.V7DashboardSchema, content_type=HAL)
    @_problems(400, 404)
    def post(self, body, dashboard_id):
        """Copy a dashboard (built-in ones too) into one the caller owns; ``title`` defaults to '<title> (copy)'."""
        doc, extras = service.clone_dashboard(g.aid, dashboard_id, g.user["_id"], body or {}, can(EDIT_ALL_REPORTS))
        return hal(mapping.dashboard_out(doc, g.user["_id"], extras, _links()), 201)


@blp.route("/dashboards/<dashboard_id>/actions/schedule")
class Schedule(MethodView):
    @requires(EDIT_REPORTS)
    @_problems(501)
    def put(self, dashboard_id):
        """Not implemented: MaiaScore takes snapshots on request only."""
        abort(501, SCHEDULES_MESSAGE)

    @requires(EDIT_REPORTS)
    @_problems(501)
    def delete(self, dashboard_id):
        """Not implemented: MaiaScore takes snapshots on request only."""
        abort(501, SCHEDULES_MESSAGE)


@blp.route("/dashboards/<dashboard_id>/widgets/<widget_id>")
class WidgetData(MethodView):
    @requires(VIEW_REPORTS)
    @blp.arguments(schemas.V7WidgetDataQuerySchema, location="query")
    @blp.response(200, schemas.V7WidgetDataSchema, content_type=HAL)
    @_problems(400, 404)
    def get(self, query, dashboard_id, widget_id):
        """A widget's data over ``window`` or ``startDate``/``endDate`` (default: the dashboard's timespan, 7 days)."""
        return hal(_widget_data(dashboard_id, widget_id, query))


@blp.route("/dashboards/<dashboard_id>/widgets/<widget_id>/cards/<card_id>")
class CardData(MethodView):
    @requires(VIEW_REPORTS)
    @blp.arguments(schemas.V7WidgetDataQuerySchema, location="query")
    @blp.response(200, schemas.V7CardDataSchema, content_type=HAL)
    @_problems(400, 404)
    def get(self, query, dashboard_id, widget_id, card_id):
        """One card of a Number widget."""
        return _widget_part(mapping.card_out, "Card", card_id, dashboard_id, widget_id, query)


@blp.route("/dashboards/<dashboard_id>/widgets/<widget_id>/columns/<column_id>")
class ColumnData(MethodView):
    @requires(VIEW_REPORTS)
    @blp.arguments(schemas.V7WidgetDataQuerySchema, location="query")
    @blp.response(200, schemas.V7ColumnDataSchema, content_type=HAL)
    @_problems(400, 404)
    def get(self, query, dashboard_id, widget_id, column_id):
        """One column of a Multi Metric Table."""
        return _widget_part(mapping.column_out, "Column", column_id, dashboard_id, widget_id, query)


@blp.route("/dashboard-snapshots")
class Snapshots(MethodView):
    @requires(VIEW_REPORTS)
    @blp.arguments(schemas.V7SnapshotListQuerySchema, location="query")
    @blp.response(200, schemas.V7SnapshotPageSchema, content_type=HAL)
    @_problems(400)
    def get(self, query):
        """The group's snapshots, newest first, 100 a page; the next page's cursor is in ``_links.next.href``."""
        try:
            page = query_integer(query.get("cursor") or "1")
        except ValueError:
            page = 0
        if page < 1:
            abort(400, "cursor is not one this API gave; take it from _links.next.href",
                  errors={"query": {"cursor": ["not a cursor this API gave"]}})
        dashboard_id = query.get("dashboardId")
        docs, more = service.list_snapshots(g.aid, dashboard_id, page)
        links = _links()
        page_links = {"self": links.href("/dashboard-snapshots", dashboardId=dashboard_id,
                                         cursor=None if page == 1 else str(page))}
        if more:
            page_links["next"] = links.href("/dashboard-snapshots", dashboardId=dashboard_id, cursor=str(page + 1))
        return hal({"dashboardSnapshots": [mapping.snapshot_out(doc, links, expires_at) for doc, expires_at in docs],
                     "_links": page_links})

    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V7SnapshotCreateSchema)
    @blp.response(201, schemas.V7SnapshotCreatedSchema, content_type=HAL)
    @_problems(400, 404)
    def post(self, body):
        """Freeze every widget's data of a dashboard over ``startDate``/``endDate`` (default: the last 7 days)."""
        doc = service.create_snapshot(g.aid, g.user["_id"], body)
        return hal(mapping.snapshot_created_out(doc, _links()), 201)


@blp.route("/dashboard-snapshots/<snapshot_id>")
class Snapshot(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.V7SnapshotSchema, content_type=HAL)
    @_problems(404)
    def get(self, snapshot_id):
        """One snapshot with the dashboard's widgets as they were."""
        doc, expires_at = service.get_snapshot(g.aid, snapshot_id)
        return hal(mapping.snapshot_out(doc, _links(), expires_at, with_widgets=True))

    @requires(EDIT_REPORTS)
    @blp.response(204)
    @_problems(403, 404)
    def delete(self, snapshot_id):
        """Delete one's own snapshot (or anyone's, with 'Edit reports for all users in account group')."""
        service.delete_snapshot(g.aid, snapshot_id, g.user["_id"], can(EDIT_ALL_REPORTS))
        return _no_content()

    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V7ExpirySchema)
    @blp.response(204)
    @_problems(400, 403, 404)
    def patch(self, body, snapshot_id):
        """Set when a snapshot expires; an expired snapshot answers 404 and leaves the list."""
        service.update_snapshot_expiry(g.aid, snapshot_id, g.user["_id"], body, can(EDIT_ALL_REPORTS))
        return _no_content()


@blp.route("/dashboard-snapshots/<snapshot_id>/widgets/<widget_id>")
class SnapshotWidgetData(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.V7WidgetDataSchema, content_type=HAL)
    @_problems(404)
    def get(self, snapshot_id, widget_id):
        """A widget's data as frozen in the snapshot."""
        body, widget = service.snapshot_widget_data(g.aid, snapshot_id, widget_id)
        return hal(_data_out(body, widget, f"/dashboard-snapshots/{snapshot_id}/widgets/{widget_id}"))


@blp.route("/dashboards/filters")
class Filters(MethodView):
    @requires(VIEW_REPORTS)
    @blp.arguments(schemas.V7FilterQuerySchema, location="query")
    @blp.response(200, schemas.V7FiltersSchema, content_type=HAL)
    def get(self, query):
        """The group's saved dashboard filters."""
        links = _links()
        return hal({"dashboardFilters": [mapping.filter_out(doc, links)
                                          for doc in service.list_filters(g.aid, query.get("searchPattern"))]})

    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V7FilterRequestSchema)
    @blp.response(201, schemas.V7FilterSchema, content_type=HAL)
    @_problems(400)
    def post(self, body):
        """Save a dashboard filter (stored and returned; MaiaScore widgets filter with their own ``filters``)."""
        return hal(mapping.filter_out(service.create_filter(g.aid, g.user, body), _links()), 201)


@blp.route("/dashboards/filters/<filter_id>")
class Filter(MethodView):
    @requires(VIEW_REPORTS)
    @blp.response(200, schemas.V7FilterSchema, content_type=HAL)
    @_problems(404)
    def get(self, filter_id):
        """One saved dashboard filter."""
        return hal(mapping.filter_out(service.get_filter(g.aid, filter_id), _links()))

    @requires(EDIT_REPORTS)
    @blp.arguments(schemas.V7FilterRequestSchema)
    @blp.response(200, schemas.V7FilterSchema, content_type=HAL)
    @_problems(400, 403, 404)
    def put(self, body, filter_id):
        """Replace a saved dashboard filter."""
        doc = service.update_filter(g.aid, filter_id, g.user, body, can(EDIT_ALL_REPORTS))
        return hal(mapping.filter_out(doc, _links()))

    @requires(EDIT_REPORTS)
    @blp.response(204)
    @_problems(403, 404)
    def delete(self, filter_id):
        """Delete a saved dashboard filter."""
        service.delete_filter(g.aid, filter_id, g.user, can(EDIT_ALL_REPORTS))
        return _no_content()
