"""Model health: /models/{version}/monitoring, /models/{version}/baseline, /models/challenger,
/models/health-series."""
from flask import g
from flask.views import MethodView

from maiascore.accounts.permissions import MANAGE_TRAININGS, VIEW_TRAININGS
from maiascore.auth.access import requires
from maiascore.errors import Conflict, NotFound
from maiascore.http.api import Blueprint
from maiascore.monitoring import challengers, schemas, service

blp = Blueprint("model-health", __name__, description="Is the active model still right: drift, realized "
                                                       "performance, and a challenger in shadow")
BODY_TYPES = ("application/json", "application/xml", "application/x-www-form-urlencoded")


@blp.route("/models/<version>/monitoring")
class Monitoring(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.arguments(schemas.WindowArgs, location="query")
    @blp.response(200, schemas.MonitoringSchema)
    @blp.alt_response(400, schema="Error", description="A window longer than MONITORING_MAX_WINDOW_DAYS, or "
                                                       "'from' not before 'to'")
    @blp.alt_response(404, schema="Error", description="No such version in this account group")
    @blp.alt_response(409, schema="Error", description="The version has no baseline")
    def get(self, args, version):
        """The health of a model version (``active``: the active one) over the reports it scored in
        ``[from, to)`` (default: the last 7 days): score and feature PSI against its baseline, realized
        performance on the reports with an ``outcome``, and the challenger compared with it."""
        return service.monitoring(g.aid, version, args["start"], args["end"])


@blp.route("/models/<version>/baseline")
class Baseline(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, schemas.BaselineSchema)
    @blp.alt_response(404, schema="Error", description="No such version in this account group")
    @blp.alt_response(409, schema="Error", description="The version has no baseline")
    def get(self, version):
        """The reference distributions monitoring compares with: bins of the training rows per feature
        and of the held-out scores."""
        model = service.model_of(g.aid, version)
        doc = service.baseline_of(model)
        if doc is None:
            raise Conflict(f"Model version {model['version']} has no baseline: its training data no "
                                   "longer exists as it was")
        return doc


@blp.route("/models/challenger")
class Challenger(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, schemas.ChallengerSchema)
    @blp.alt_response(404, schema="Error", description="No challenger is set")
    def get(self):
        """The version scoring in shadow beside the active one."""
        doc = challengers.get(g.aid)
        if doc is None:
            raise NotFound("This account group has no challenger")
        return doc

    @requires(MANAGE_TRAININGS)
    @blp.arguments(schemas.ChallengerInputSchema)
    @blp.doc(requestBody={"required": True,
                          "content": {ct: {"schema": schemas.ChallengerInputSchema} for ct in BODY_TYPES}})
    @blp.response(200, schemas.ChallengerSchema)
    @blp.alt_response(400, schema="Error", description="The version is the active one")
    @blp.alt_response(404, schema="Error", description="No such version in this account group")
    @blp.alt_response(409, schema="Error", description="The account group has no active model")
    def put(self, body):
        """Make ``version`` the challenger of the active model: every report the active model scores is
        also scored by it, stored beside the result as ``challenger``; it is never the report's score.
        Activating a model (the challenger: a promotion) ends the challenge."""
        return challengers.set_challenger(g.aid, body["version"], g.user["_id"])

    @requires(MANAGE_TRAININGS)
    @blp.response(200, schemas.ChallengerSchema)
    @blp.alt_response(404, schema="Error", description="No challenger is set")
    def delete(self):
        """Stop the challenge; what it recorded stays in the monitoring of the active version."""
        return challengers.clear(g.aid)


@blp.route("/models/health-series")
class HealthSeries(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.arguments(schemas.SeriesArgs, location="query")
    @blp.response(200, schemas.PointSchema(many=True))
    def get(self, args):
        """One model health metric over time, per version (and per feature for ``feature-psi``)."""
        return service.metric_series(g.aid, args["metric"], args["start"], args["end"], args["bin"],
                                     args["version"], args["feature"])
