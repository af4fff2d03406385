"""Strapi-style ``/reports``: score reports, created one by one or in bulk and scored in the background."""
from flask import current_app, g, request
from flask.views import MethodView

from maiascore.accounts.permissions import ACCOUNT_ADMIN, CREATE_SCORES, VIEW_SCORES, role_name
from maiascore.http.api import Blueprint
from maiascore.auth.access import requires
from maiascore.http.bodies import request_body
from maiascore.reports import schemas, service

blp = Blueprint("reports", __name__, url_prefix="/reports", description="Score reports")

_input_doc = {"oneOf": [schemas.ScoreReportInputSchema,
                        {"type": "array", "items": schemas.ScoreReportInputSchema, "maxItems": 10000}]}
_created_doc = {"oneOf": [schemas.ScoreReportSchema, schemas.ScoreReportBulkResultSchema]}
_CONTENT_TYPES = ("application/json", "application/xml", "application/x-www-form-urlencoded")


def _caller():
    return service.Caller(user=g.user, aid=g.aid, permissions=g.permissions,
                          is_admin=role_name(g.role_id) == ACCOUNT_ADMIN)


def _waited(doc, query, caller):
    seconds = service.wait_seconds(query.get("wait"), request.headers.get("Prefer"))
    return service.wait_for_result(doc, seconds, caller)


def _json(data):
    """Views build JSON-ready data themselves (see ``service.present``); the schemas document it."""
    return current_app.json.response(data)


@blp.route("")
class Reports(MethodView):
    @requires(VIEW_SCORES)
    @blp.response(200, schemas.ScoreReportSchema(many=True))
    def get(self):
        """List the account group's reports.

        Strapi filters: `_limit` (default 100, at most 1000), `_start`, `_sort=score:DESC`,
        `field=value` and `field_ne|lt|lte|gt|gte|in|nin|contains|containss|null`, e.g.
        `processed=false`, `score_gte=600`, `scoreVersion_in=3,4`.
        """
        return _json(service.list_reports(request.args, _caller()))

    @requires(CREATE_SCORES)
    @blp.arguments(schemas.WaitQuerySchema, location="query")
    @blp.doc(requestBody={"required": True,
                          "content": {ct: {"schema": _input_doc} for ct in _CONTENT_TYPES}})
    @blp.response(200, _created_doc,
                  description="One report (object body) or, for a list body, the ids in request order "
                              "with an error for each refused item")
    @blp.alt_response(400, schema="Error", description="Unknown report type, bad wait, empty bulk")
    @blp.alt_response(413, schema="Error", description="More than BULK_MAX_ITEMS reports")
    @blp.alt_response(422, schema="Error", description="Validation failed")
    def post(self, query):
        """Create a report (or up to 10,000) and queue it for scoring.

        The report is stored with `status: "queued"` before anything else happens. A `uuid`
        already used in the account group returns the stored report and queues nothing.
        `?wait=N` or `Prefer: wait=N` (seconds, at most 30) answers once the report is scored.
        """
        body = request_body()
        caller = _caller()
        if isinstance(body, list):
            return _json(service.create_reports(body, caller))
        doc, _ = service.create_report(body if body is not None else {}, caller)
        return _json(service.present_one(_waited(doc, query, caller), caller))


@blp.route("/count")
class ReportCount(MethodView):
    @requires(VIEW_SCORES)
    @blp.response(200, {"type": "integer"}, description="Number of reports matching the filters")
    def get(self):
        """Count the account group's reports, with the same filters as the list."""
        return _json(service.count_reports(request.args, _caller()))


@blp.route("/<report_id>")
class Report(MethodView):
    @requires(VIEW_SCORES)
    @blp.arguments(schemas.WaitQuerySchema, location="query")
    @blp.response(200, schemas.ScoreReportSchema)
    @blp.alt_response(404, schema="Error", description="No such report in the account group")
    def get(self, query, report_id):
        """One report; `?wait=N` waits up to N seconds for its score."""
        caller = _caller()
        return _json(service.present_one(_waited(service.find_report(report_id, caller), query, caller), caller))

    @requires(CREATE_SCORES)
    @blp.arguments(schemas.WaitQuerySchema, location="query")
    @blp.arguments(schemas.ScoreReportUpdateSchema(partial=True))
    @blp.response(200, schemas.ScoreReportSchema)
    @blp.alt_response(404, schema="Error", description="No such report in the account group")
    def put(self, query, body, report_id):
        """Edit `uuid`, `referenceId`, `features` (re-queues scoring), `outcome` (good/bad or 1/0)
        or, with Manage Users, the owner. Only the owner or an Account Admin may edit."""
        caller = _caller()
        doc = service.update_report(report_id, body, caller)
        return _json(service.present_one(_waited(doc, query, caller), caller))

    @requires(CREATE_SCORES)
    @blp.response(200, schemas.ScoreReportSchema, description="The deleted report")
    @blp.alt_response(404, schema="Error", description="No such report in the account group")
    def delete(self, report_id):
        """Delete a report (owner or Account Admin)."""
        caller = _caller()
        return _json(service.present_one(service.delete_report(report_id, caller), caller))


@blp.route("/<report_id>/rescore")
class Rescore(MethodView):
    @requires(CREATE_SCORES)
    @blp.arguments(schemas.WaitQuerySchema, location="query")
    @blp.response(200, schemas.ScoreReportSchema)
    @blp.alt_response(404, schema="Error", description="No such report in the account group")
    def post(self, query, report_id):
        """Score the report again with the account group's current model (owner or Account Admin)."""
        caller = _caller()
        doc = service.rescore_report(report_id, caller)
        return _json(service.present_one(_waited(doc, query, caller), caller))
