"""/trainings (Strapi content type) and /models (the account group's model registry)."""
import io

from flask import g, request, send_file
from flask.views import MethodView

from maiascore.accounts.permissions import MANAGE_TRAININGS, VIEW_TRAININGS
from maiascore.errors import NotFound
from maiascore.auth.access import requires
from maiascore.http.api import Blueprint
from maiascore.http.openapi import body_doc
from maiascore.http.strapi import list_parameters, parse_limit, parse_list_query, parse_start
from maiascore.trainings import registry, schemas, service

blp = Blueprint("trainings", __name__, description="Train XGBoost models and choose the one that scores")


SEARCH_FIELDS = ("uuid",)
LIST_PARAMETERS = list_parameters(service.LIST_FIELDS, search=SEARCH_FIELDS)
COUNT_PARAMETERS = [p for p in LIST_PARAMETERS if p["name"] not in ("_limit", "_start", "_sort")]


def _list_query():
    return parse_list_query(request.args, service.LIST_FIELDS, {"aid": g.aid}, search=SEARCH_FIELDS)


def _shown(doc):
    return service.with_active([doc], g.aid)[0]


@blp.route("/trainings")
class Trainings(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.doc(parameters=LIST_PARAMETERS)
    @blp.response(200, schemas.TrainingSchema(many=True))
    def get(self):
        """List trainings: ``_limit``, ``_start``, ``_sort=field:ASC|DESC``, ``field[_ne|_lt|_gt|_in|...]=``."""
        return service.with_active(service.list_trainings(_list_query()), g.aid)

    @requires(MANAGE_TRAININGS)
    @blp.arguments(schemas.TrainingCreateSchema, required=False)
    @blp.doc(requestBody=body_doc(schemas.TrainingCreateSchema, required=False))
    @blp.response(200, schemas.TrainingSchema)
    def post(self, body):
        """Launch a training now, at ``scheduledAt``, or repeatedly on ``cron``; it runs asynchronously.

        Output fields (accuracy, precission, mae, rmse, binaryPath, version) are computed by the
        server: values sent for them are ignored. A ``uuid`` already used in this account group
        returns that training and starts nothing.
        """
        doc, _ = service.create_training(g.aid, g.user["_id"], body)
        return _shown(doc)


@blp.route("/trainings/count")
class TrainingCount(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, description=schemas.COUNT_DESCRIPTION)
    @blp.doc(**schemas.COUNT_DOC)
    @blp.doc(parameters=COUNT_PARAMETERS)
    def get(self):
        """Number of trainings matching the same filters as the list."""
        return service.count_trainings(_list_query())


@blp.route("/trainings/<training_id>")
class Training(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, schemas.TrainingSchema)
    def get(self, training_id):
        """One training, with its progress while it runs and its metrics once it succeeded."""
        return _shown(service.get_training(g.aid, training_id))

    @requires(MANAGE_TRAININGS)
    @blp.arguments(schemas.TrainingUpdateSchema)
    @blp.doc(requestBody=body_doc(schemas.TrainingUpdateSchema))
    @blp.response(200, schemas.TrainingSchema)
    @blp.alt_response(400, schema="Error", description="A field that cannot change, or a bound the new "
                                                       "parameters break; the message says which")
    @blp.alt_response(409, schema="Error", description="The training has started: only meta.note can change")
    def put(self, body, training_id):
        """Update a training (Strapi's update): ``meta.note`` at any time; the other ``meta`` parameters
        while it is scheduled or queued; ``scheduledAt`` and ``cron`` while it is scheduled. Fields the
        server computes may be echoed back unchanged."""
        doc = service.update_training(g.aid, training_id, g.user["_id"], body)
        return _shown(doc)

    @requires(MANAGE_TRAININGS)
    @blp.response(200, schemas.TrainingSchema)
    @blp.alt_response(409, schema="Error", description="It produced the account group's active model")
    def delete(self, training_id):
        """Cancel a scheduled, queued or running training; delete a finished one (its model stays
        in the registry). The training that produced the active model cannot be deleted."""
        doc = service.delete_training(g.aid, training_id, g.user["_id"])
        return _shown(doc)


@blp.route("/trainings/<training_id>/model")
class TrainingModel(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream",
                  description="The XGBoost model in XGBoost's UBJSON format (Booster.load_model reads it)")
    def get(self, training_id):
        """Download the model binary of a succeeded training."""
        model = service.training_model(g.aid, training_id)
        response = send_file(io.BytesIO(registry.load_model_bytes(model)), mimetype="application/octet-stream",
                             as_attachment=True, download_name=f"model-v{model['version']}.ubj")
        response.headers["X-Model-Version"] = model["version"]
        return response


@blp.route("/trainings/<training_id>/activate")
class TrainingActivation(MethodView):
    @requires(MANAGE_TRAININGS)
    @blp.response(200, schemas.ModelSchema)
    @blp.alt_response(409, schema="Error", description="The training has not succeeded")
    def post(self, training_id):
        """Make this training's model the one that scores the account group's references
        (rolling back is activating an older training)."""
        return service.activate_training(g.aid, training_id)


@blp.route("/models")
class Models(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, schemas.ModelSummarySchema(many=True))
    def get(self):
        """The registry: every model of the account group, newest first (``_limit``, ``_start``)."""
        return registry.list_models(g.aid, parse_start(request.args), parse_limit(request.args))


@blp.route("/models/active")
class ActiveModel(MethodView):
    @requires(VIEW_TRAININGS)
    @blp.response(200, schemas.ModelSchema)
    def get(self):
        """The model that scores the account group's references: version, training, metrics, feature schema."""
        model = registry.active_model(g.aid)
        if model is None:
            raise NotFound("This account group has no active model yet: launch a training (POST /trainings)")
        return model
