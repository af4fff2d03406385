"""/scoring-runs (Strapi content type): score every row of a data set into reports or a file."""
from flask import g, request, send_file
from flask.views import MethodView

from maiascore.accounts.permissions import MANAGE_TRAININGS, VIEW_TRAININGS
from maiascore.auth.access import requires
from maiascore.http.api import Blueprint
from maiascore.http.strapi import list_parameters, parse_list_query
from maiascore.scoring_runs import schemas, service

blp = Blueprint("scoring-runs", __name__, description="Score a whole data set with a model, in the background")


def _list_query():
    return parse_list_query(request.args, service.LIST_FIELDS, {"aid": g.aid})


@blp.route("/scoring-runs")
class ScoringRuns(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.doc(parameters=list_parameters(service.LIST_FIELDS))
    @blp.response(200, schemas.ScoringRunSchema(many=True))
    def get(self):
        """List scoring runs: ``_limit``, ``_start``, ``_sort=field:ASC|DESC``, ``field[_ne|_lt|_gt|_in|...]=``."""
        return service.list_runs(_list_query())

    @requires(MANAGE_TRAININGS)
    @blp.arguments(schemas.ScoringRunCreateSchema)
    @blp.response(200, schemas.ScoringRunSchema)
    def post(self, body):
        """Score every row of ``dataset`` with ``modelVersion`` (default: the active model), in chunks on the
        training workers (on Dask when configured and the data set is registered by URI). ``output.kind``
        ``reports`` upserts one score report per row (uuid = the ``rowKey`` column, so running again creates
        no duplicate); ``file`` writes a CSV or Parquet file (GET /scoring-runs/{id}/result)."""
        return service.create_run(g.aid, g.user["_id"], body)


@blp.route("/scoring-runs/count")
class ScoringRunCount(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, description=schemas.COUNT_DESCRIPTION)
    @blp.doc(**schemas.COUNT_DOC)
    def get(self):
        """Number of scoring runs matching the same filters as the list."""
        return service.count_runs(_list_query())


@blp.route("/scoring-runs/<run_id>")
class ScoringRun(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, schemas.ScoringRunSchema)
    def get(self, run_id):
        """One scoring run, with its progress (rows done / total) while it runs."""
        return service.get_run(g.aid, run_id)

    @requires(MANAGE_TRAININGS)
    @blp.response(200, schemas.ScoringRunSchema)
    def delete(self, run_id):
        """Cancel a queued or running run (the reports it already wrote stay); delete a finished one and
        its result file."""
        return service.delete_run(g.aid, run_id, g.user["_id"])


@blp.route("/scoring-runs/<run_id>/result")
class ScoringRunResult(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream",
                  description="The result file: row key, row, score, probability, confidence, modelVersion "
                              "and topNFeature/topNContribution columns")
    @blp.alt_response(409, schema="Error", description="The run has not succeeded")
    def get(self, run_id):
        """Download the result file of a succeeded run (``output.kind`` file)."""
        stream, filename, mimetype = service.result_file(g.aid, run_id)
        return send_file(stream, mimetype=mimetype, as_attachment=True, download_name=filename)
