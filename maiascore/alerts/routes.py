"""ThousandEyes API v7 alerts and integrations: the routes ``thousandeyes-sdk-alerts`` and
``thousandeyes-sdk-connectors`` call, plus the delivery log."""
from flask import g, request
from flask.views import MethodView

from config import settings
from maiascore.accounts.permissions import EDIT_ALERT_RULES, VIEW_ALERTS
from maiascore.alerts import connectors, mapping, rules, schemas, service
from maiascore.auth.access import requires
from maiascore.dashboards.v7.mapping import Links, parse_query_date
from maiascore.http.api import Blueprint
from maiascore.http.bodies import request_body
from maiascore.http.errors import abort
from maiascore.http.hal import HAL, hal, problems

blp = Blueprint("alerts_v7", __name__, url_prefix="/v7",
                description="Alert rules on dashboard metrics, the alerts they raise, webhook connectors and "
                            "operations that notify, and the delivery log (ThousandEyes v7 style)")


def _problems(*codes):
    return problems(blp, schemas.V7ProblemSchema, *codes)


def _links():
    return Links(request.host_url, request.args.get("aid"))


def _bounded():
    """Bodies of rules, connectors and operations are small; a large one is refused before it is read."""
    limit = settings().ALERT_MAX_BODY_BYTES
    if (request.content_length or 0) > limit or len(request.get_data(cache=True)) > limit:
        abort(413, f"the body exceeds ALERT_MAX_BODY_BYTES = {limit} bytes")


def _page_links(path, query, offset, limit, more, **params):
    links = _links()
    page = {"self": links.href(path, **params, max=query.get("max"), cursor=query.get("cursor"))}
    if more:
        page["next"] = links.href(path, **params, max=query.get("max"), cursor=str(offset + limit))
    return page


# --- rules ---------------------------------------------------------------------------------


@blp.route("/alerts/rules")
class Rules(MethodView):
    @requires(VIEW_ALERTS)
    @blp.arguments(schemas.RuleQuerySchema, location="query")
    @blp.response(200, schemas.RulesSchema, content_type=HAL)
    def get(self, query):
        """The account group's alert rules, oldest first."""
        links = _links()
        return hal({"alertRules": [mapping.rule_out(doc, links)
                                    for doc in rules.list_rules(g.aid, query.get("dashboardId"))],
                     "_links": {"self": links.href("/alerts/rules")}})

    @requires(EDIT_ALERT_RULES)
    @blp.arguments(schemas.RuleSchema)
    @blp.response(201, schemas.RuleSchema, content_type=HAL)
    @_problems(400, 409, 413)
    def post(self, body):
        """Create an alert rule: one metric, a comparison and a threshold, over a window."""
        _bounded()
        return hal(mapping.rule_out(service.create_rule(g.aid, g.user["_id"], body), _links()), 201)


@blp.route("/alerts/rules/<rule_id>")
class Rule(MethodView):
    @requires(VIEW_ALERTS)
    @blp.response(200, schemas.RuleSchema, content_type=HAL)
    @_problems(404)
    def get(self, rule_id):
        """One alert rule, with its last measurement."""
        return hal(mapping.rule_out(rules.get_rule(g.aid, rule_id), _links(), detail=True))

    @requires(EDIT_ALERT_RULES)
    @blp.arguments(schemas.RuleSchema)
    @blp.response(200, schemas.RuleSchema, content_type=HAL)
    @_problems(400, 404, 413)
    def put(self, body, rule_id):
        """Replace an alert rule; the next evaluations judge the new condition afresh."""
        _bounded()
        return hal(mapping.rule_out(service.update_rule(g.aid, rule_id, g.user["_id"], body), _links(),
                                     detail=True))

    @requires(EDIT_ALERT_RULES)
    @blp.response(204)
    @_problems(404)
    def delete(self, rule_id):
        """Delete an alert rule; an alert it holds open is cleared without notifications."""
        service.delete_rule(g.aid, rule_id)
        return "", 204


# --- alerts --------------------------------------------------------------------------------


@blp.route("/alerts")
class Alerts(MethodView):
    @requires(VIEW_ALERTS)
    @blp.arguments(schemas.AlertQuerySchema, location="query")
    @blp.response(200, schemas.AlertsSchema, content_type=HAL)
    @_problems(400)
    def get(self, query):
        """Alerts newest first; ``_links.next.href`` carries the next page's cursor."""
        start, end = service.time_range(query.get("window"), parse_query_date(query.get("startDate"), "startDate"),
                                        parse_query_date(query.get("endDate"), "endDate"))
        offset, limit = service.page_args(query.get("cursor"), query.get("max"))
        docs, more = service.list_alerts(g.aid, query.get("state"), start, end, offset, limit)
        links = _links()
        params = {k: query.get(k) for k in ("window", "startDate", "endDate", "state")}
        return hal({"alerts": [mapping.alert_out(doc, links) for doc in docs],
                     "startDate": mapping.iso(start), "endDate": mapping.iso(end),
                     "_links": _page_links("/alerts", query, offset, limit, more, **params)})


@blp.route("/alerts/<alert_id>")
class Alert(MethodView):
    @requires(VIEW_ALERTS)
    @blp.response(200, schemas.AlertDetailSchema, content_type=HAL)
    @_problems(404)
    def get(self, alert_id):
        """One alert: its rule, start and end, and the values measured then."""
        return hal(mapping.alert_detail_out(service.get_alert(g.aid, alert_id), _links()))


@blp.route("/alerts/deliveries")
class Deliveries(MethodView):
    @requires(VIEW_ALERTS)
    @blp.arguments(schemas.DeliveryQuerySchema, location="query")
    @blp.response(200, schemas.DeliveriesSchema, content_type=HAL)
    @_problems(400)
    def get(self, query):
        """The delivery log: every notification, newest first, with each attempt's status code and latency."""
        offset, limit = service.page_args(query.get("cursor"), query.get("max"))
        docs, more = service.list_deliveries(g.aid, query.get("alertId"), query.get("integrationId"),
                                             query.get("status"), offset, limit)
        params = {k: query.get(k) for k in ("alertId", "integrationId", "status")}
        return hal({"deliveries": [mapping.delivery_out(doc) for doc in docs],
                     "_links": _page_links("/alerts/deliveries", query, offset, limit, more, **params)})


# --- generic connectors --------------------------------------------------------------------


@blp.route("/connectors/generic")
class Connectors(MethodView):
    @requires(VIEW_ALERTS)
    @blp.response(200, schemas.ConnectorsSchema, content_type=HAL)
    def get(self):
        """The account group's webhook connectors (credentials masked)."""
        links = _links()
        return hal({"items": [mapping.connector_out(doc, links) for doc in connectors.list_connectors(g.aid)],
                     "_links": {"self": links.href("/connectors/generic")}})

    @requires(EDIT_ALERT_RULES)
    @blp.arguments(schemas.ConnectorSchema)
    @blp.response(201, schemas.ConnectorSchema, content_type=HAL)
    @_problems(400, 409, 413)
    def post(self, body):
        """Create a connector; its target is checked against WEBHOOK_ALLOWED_HOSTS before anything connects.
        The answer shows the signing secret, once."""
        _bounded()
        doc = connectors.create_connector(g.aid, g.user["_id"], body)
        return hal(mapping.connector_out(doc, _links(), secret=doc["secret"]), 201)


@blp.route("/connectors/generic/<connector_id>")
class Connector(MethodView):
    @requires(VIEW_ALERTS)
    @blp.response(200, schemas.ConnectorSchema, content_type=HAL)
    @_problems(404)
    def get(self, connector_id):
        """One connector (credentials masked)."""
        return hal(mapping.connector_out(connectors.get_connector(g.aid, connector_id), _links()))

    @requires(EDIT_ALERT_RULES)
    @blp.arguments(schemas.ConnectorSchema)
    @blp.response(200, schemas.ConnectorSchema, content_type=HAL)
    @_problems(400, 404, 413)
    def put(self, body, connector_id):
        """Replace a connector; a masked credential sent back keeps the stored one."""
        _bounded()
        doc, secret = connectors.update_connector(g.aid, connector_id, body)
        return hal(mapping.connector_out(doc, _links(), secret=secret))

    @requires(EDIT_ALERT_RULES)
    @blp.response(204)
    @_problems(404)
    def delete(self, connector_id):
        """Delete a connector; its operations stay, unassigned."""
        connectors.delete_connector(g.aid, connector_id)
        return "", 204


@blp.route("/connectors/generic/<connector_id>/operations")
class ConnectorOperations(MethodView):
    @requires(VIEW_ALERTS)
    @blp.response(200, schemas.AssignmentsSchema, content_type=HAL)
    @_problems(404)
    def get(self, connector_id):
        """The webhook operations sent through this connector."""
        ids = connectors.connector_operations(g.aid, connector_id)
        return hal(mapping.assignments_out(ids, _links(), f"/connectors/generic/{connector_id}/operations"))

    @requires(EDIT_ALERT_RULES)
    @blp.response(200, schemas.AssignmentsSchema, content_type=HAL)
    @_problems(400, 404)
    def put(self, connector_id):
        """Assign exactly these webhook operations (a JSON list of ids) to the connector."""
        ids = connectors.set_connector_operations(g.aid, connector_id, request_body())
        return hal(mapping.assignments_out(ids, _links(), f"/connectors/generic/{connector_id}/operations"))


# --- webhook operations --------------------------------------------------------------------


@blp.route("/operations/webhooks")
class Operations(MethodView):
    @requires(VIEW_ALERTS)
    @blp.response(200, schemas.OperationsSchema, content_type=HAL)
    def get(self):
        """The account group's webhook operations."""
        links = _links()
        return hal({"items": [mapping.operation_out(doc, links) for doc in connectors.list_operations(g.aid)],
                     "_links": {"self": links.href("/operations/webhooks")}})

    @requires(EDIT_ALERT_RULES)
    @blp.arguments(schemas.OperationSchema)
    @blp.response(201, schemas.OperationSchema, content_type=HAL)
    @_problems(400, 409, 413)
    def post(self, body):
        """Create a webhook operation; a rule names it in ``notifications.webhook[].integrationId``."""
        _bounded()
        return hal(mapping.operation_out(connectors.create_operation(g.aid, g.user["_id"], body), _links()), 201)


@blp.route("/operations/webhooks/<operation_id>")
class Operation(MethodView):
    @requires(VIEW_ALERTS)
    @blp.response(200, schemas.OperationSchema, content_type=HAL)
    @_problems(404)
    def get(self, operation_id):
        """One webhook operation; ``status`` is its last delivery's outcome."""
        return hal(mapping.operation_out(connectors.get_operation(g.aid, operation_id), _links()))

    @requires(EDIT_ALERT_RULES)
    @blp.arguments(schemas.OperationSchema)
    @blp.response(200, schemas.OperationSchema, content_type=HAL)
    @_problems(400, 404, 413)
    def put(self, body, operation_id):
        """Replace a webhook operation."""
        _bounded()
        return hal(mapping.operation_out(connectors.update_operation(g.aid, operation_id, body), _links()))

    @requires(EDIT_ALERT_RULES)
    @blp.response(204)
    @_problems(404, 409)
    def delete(self, operation_id):
        """Delete a webhook operation no rule uses."""
        service.delete_operation(g.aid, operation_id)
        return "", 204


@blp.route("/operations/<kind>/<operation_id>/connectors")
class OperationConnectors(MethodView):
    @requires(VIEW_ALERTS)
    @blp.response(200, schemas.AssignmentsSchema, content_type=HAL)
    @_problems(404)
    def get(self, kind, operation_id):
        """The connector (at most one) this webhook operation is sent through."""
        _webhooks_only(kind)
        ids = connectors.operation_connectors(g.aid, operation_id)
        return hal(mapping.assignments_out(ids, _links(), f"/operations/webhooks/{operation_id}/connectors"))

    @requires(EDIT_ALERT_RULES)
    @blp.response(200, schemas.AssignmentsSchema, content_type=HAL)
    @_problems(400, 404)
    def put(self, kind, operation_id):
        """Send this webhook operation through one connector (a JSON list of at most one id)."""
        _webhooks_only(kind)
        ids = connectors.set_operation_connectors(g.aid, operation_id, request_body())
        return hal(mapping.assignments_out(ids, _links(), f"/operations/webhooks/{operation_id}/connectors"))


def _webhooks_only(kind):
    if kind != "webhooks":
        abort(404, f"operations of type {kind!r} are not available; MaiaScore has webhook operations only")
