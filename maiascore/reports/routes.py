"""Strapi-style ``/reports``: score reports, created one by one or in bulk and scored in the background.

HTTP only: the caller, the query string and the body are read here, the service does the work, and
``@blp.response`` shows its result through the schemas (``maiascore.http.formats`` renders XML after).
"""
from flask import g, request
from flask.views import MethodView

from maiascore import metrics
from maiascore.accounts.permissions import ACCOUNT_ADMIN, CREATE_SCORES, VIEW_SCORES, role_name
from maiascore.auth.access import requires
from maiascore.errors import Unprocessable
from maiascore.http import api
from maiascore.http.bodies import require_body
from maiascore.http.openapi import FORM_NOTE, body_doc
from maiascore.http.strapi import list_parameters, parse_list_query
from maiascore.reports import schemas, service, waiting


class Blueprint(api.Blueprint):
    """Documents a response schema by its ``openapi`` attribute when it has one: a schema that dumps a
    choice of shapes, or a bare number, which marshmallow fields cannot describe."""

    @staticmethod
    def _make_doc_response_schema(schema):
        return getattr(schema, "openapi", schema)


blp = Blueprint("reports", __name__, url_prefix="/reports", description="Score reports")

_bulk_doc = {"type": "array", "items": schemas.ScoreReportInputSchema, "minItems": 1, "maxItems": 10000}
_single_note = ("A JSON array (XML `<items><item>...</item></items>`) is a bulk create, answered as POST "
                "/reports/bulk answers. " + FORM_NOTE)
_LIST_PARAMETERS = list_parameters(schemas.LIST_FIELDS, search=schemas.SEARCH_FIELDS)


def _caller():
    return service.Caller(user=g.user, aid=g.aid, permissions=g.permissions,
                          is_admin=role_name(g.role_id) == ACCOUNT_ADMIN)


def _list_query(caller):
    return parse_list_query(request.args, schemas.LIST_FIELDS, {"aid": caller.aid}, search=schemas.SEARCH_FIELDS)


def _wait_seconds(query):
    return waiting.wait_seconds(query.get("wait"), request.headers.get("Prefer"))


def _create_bulk(items, caller):
    result = service.create_reports(items, caller)
    metrics.reports_accepted("bulk", result.accepted)
    return result


def _waited(doc, seconds, caller):
    """The report, once scored when asked to wait; the wait takes one of the group's wait slots."""
    if seconds > 0 and not waiting.is_settled(doc):
        with waiting.slot(caller.aid, seconds), metrics.WAITS_OPEN.track_inprogress():
            doc = waiting.wait_for_result(doc, seconds, caller)
    return service.with_owner(doc, caller)


@blp.route("")
class Reports(MethodView):
    @requires(VIEW_SCORES)
    @blp.doc(parameters=_LIST_PARAMETERS)
    @blp.response(200, schemas.ScoreReportSchema(many=True))
    @blp.alt_response(400, schema="Error", description="Unknown filter or sort field, or a bad value")
    def get(self):
        """List the account group's reports.

        Strapi filters: `_limit` (default 100, at most 1000), `_start`, `_sort=score:DESC`,
        `field=value` and `field_ne|lt|lte|gt|gte|in|nin|contains|containss|null`, e.g.
        `processed=false`, `score_gte=600`, `scoreVersion_in=3,4`; `_q` searches uuid and referenceId.
        """
        caller = _caller()
        return service.list_reports(_list_query(caller), caller)

    @requires(CREATE_SCORES)
    @blp.arguments(schemas.WaitQuerySchema, location="query")
    @blp.doc(requestBody=body_doc(schemas.ScoreReportInputSchema, description=_single_note,
                                  xml_schema={"oneOf": [schemas.ScoreReportInputSchema, _bulk_doc]}))
    @blp.response(200, schemas.ScoreReportCreatedSchema,
                  description="The report (for a list body: the answer of POST /reports/bulk)")
    @blp.alt_response(400, schema="Error", description="Unknown report type, bad wait")
    @blp.alt_response(413, schema="Error", description="More than BULK_MAX_ITEMS reports")
    @blp.alt_response(422, schema="Error", description="Validation failed, or no body")
    def post(self, query):
        """Create a report and queue it for scoring.

        The report is stored with `status: "queued"` before anything else happens. A `uuid`
        already used in the account group returns the stored report and queues nothing.
        `?wait=N` or `Prefer: wait=N` (seconds, at most 30) answers once the report is scored: the
        API scores it with the group's active model and stores it once, with its result; a model past
        WEB_SCORING_MAX_MODEL_BYTES, or a group past WEB_SCORING_MS_PER_MINUTE, has it scored by a
        scoring worker instead. Either way it is stored before the answer. Each account group may have
        MAX_WAITS_PER_GROUP requests waiting for a worker at once (429 past it, nothing stored).
        """
        body = require_body()
        caller = _caller()
        if isinstance(body, list):
            return _create_bulk(body, caller)
        seconds = _wait_seconds(query)
        if seconds > 0:
            with metrics.WAITS_OPEN.track_inprogress():
                doc = waiting.create_and_wait(body, caller, seconds)
        else:
            doc, _ = service.create_report(body, caller)
        metrics.reports_accepted("single")
        return service.with_owner(doc, caller)


@blp.route("/bulk")
class ReportsBulk(MethodView):
    @requires(CREATE_SCORES)
    @blp.doc(requestBody=body_doc(_bulk_doc, xml_schema=_bulk_doc))
    @blp.response(200, schemas.ScoreReportBulkResultSchema,
                  description="The ids in request order, with an error for each refused item")
    @blp.alt_response(400, schema="Error", description="Empty list")
    @blp.alt_response(413, schema="Error", description="More than BULK_MAX_ITEMS reports")
    @blp.alt_response(422, schema="Error", description="Not a list, or no body")
    def post(self):
        """Create up to BULK_MAX_ITEMS (10,000) reports and queue them for scoring, as POST /reports
        does with a list body: valid items are stored even when others are refused."""
        body = require_body()
        if not isinstance(body, list):
            raise Unprocessable("Request validation failed",
                                errors={"_schema": ["A bulk body is a list of reports."]})
        return _create_bulk(body, _caller())


@blp.route("/count")
class ReportCount(MethodView):
    @requires(VIEW_SCORES)
    @blp.doc(parameters=[p for p in _LIST_PARAMETERS if p["name"] not in ("_limit", "_start", "_sort")])
    @blp.response(200, schemas.CountSchema, description="Number of reports matching the filters")
    @blp.alt_response(400, schema="Error", description="Unknown filter field, or a bad value")
    def get(self):
        """Count the account group's reports, with the same filters as the list."""
        caller = _caller()
        return service.count_reports(_list_query(caller), caller)


@blp.route("/<report_id>")
class Report(MethodView):
    @requires(VIEW_SCORES)
    @blp.arguments(schemas.WaitQuerySchema, location="query")
    @blp.response(200, schemas.ScoreReportSchema)
    @blp.alt_response(404, schema="Error", description="No such report in the account group")
    def get(self, query, report_id):
        """One report; `?wait=N` waits up to N seconds for its score (MAX_WAITS_PER_GROUP per group)."""
        caller = _caller()
        seconds = _wait_seconds(query)
        return _waited(service.find_report(report_id, caller), seconds, caller)

    @requires(CREATE_SCORES)
    @blp.arguments(schemas.WaitQuerySchema, location="query")
    @blp.arguments(schemas.ScoreReportUpdateSchema(partial=True))
    @blp.response(200, schemas.ScoreReportSchema)
    @blp.alt_response(404, schema="Error", description="No such report in the account group")
    def put(self, query, body, report_id):
        """Edit `uuid`, `referenceId`, `features` (re-queues scoring), `outcome` (good/bad or 1/0)
        or, with Manage Users, the owner. Only the owner or an Account Admin may edit."""
        caller = _caller()
        seconds = _wait_seconds(query)
        return _waited(service.update_report(report_id, body, caller), seconds, caller)

    @requires(CREATE_SCORES)
    @blp.response(200, schemas.ScoreReportSchema, description="The deleted report")
    @blp.alt_response(404, schema="Error", description="No such report in the account group")
    def delete(self, report_id):
        """Delete a report (owner or Account Admin)."""
        caller = _caller()
        return service.with_owner(service.delete_report(report_id, caller), caller)


@blp.route("/<report_id>/rescore")
class Rescore(MethodView):
    @requires(CREATE_SCORES)
    @blp.arguments(schemas.WaitQuerySchema, location="query")
    @blp.response(200, schemas.ScoreReportSchema)
    @blp.alt_response(404, schema="Error", description="No such report in the account group")
    def post(self, query, report_id):
        """Score the report again with the account group's current model (owner or Account Admin)."""
        caller = _caller()
        seconds = _wait_seconds(query)
        return _waited(service.rescore_report(report_id, caller), seconds, caller)
