"""Trainings and models as the API reads and writes them."""
import json
from datetime import timezone

import marshmallow as ma
from croniter import croniter

from maiascore.http.fields import Ignored
from maiascore.http.strapi import COUNT_DESCRIPTION, COUNT_DOC, entry_fields  # noqa: F401  the routes' count
from maiascore.trainings.parameters import check_meta
from maiascore.trainings.states import STATUSES

META_DESCRIPTION = (
    "The training's parameters, as an object or as a JSON text (returned in the same shape): "
    "dataset ('reports', 'german-credit' or an uploaded dataset's id), target, params (XGBoost "
    "hyper-parameters from a whitelist), testSize, seed, activate ('always', 'if-better', 'never'), note. "
    "Any other text is kept as meta.note and the defaults apply. positiveLabel names the target's class whose "
    "probability is scoreProbability (needed unless its two labels are a known pair such as good/bad). "
    "After a success meta.metrics holds the held-out metrics: accuracy, precision, recall, f1, auc, "
    "confusion and confusionMatrix, the roc and precisionRecall curves (at most 50 points each), "
    "featureImportance (gain).")


def _numbers(*names, kind="number"):
    return {name: {"type": kind} for name in names}


CURVE_POINT = {"type": "object", "properties": _numbers("threshold", "fpr", "tpr")}
METRICS_DOC = {
    "type": "object",
    "description": "Held-out metrics of a succeeded training, on the test part training never saw; 'positive' "
                   "is positiveLabel, the class whose probability scoreProbability is",
    "properties": {
        **_numbers("accuracy", "precision", "recall", "f1", "mae", "rmse", "logloss"),
        "auc": {"type": "number", "nullable": True},
        "confusion": {"type": "object", "description": "Counts at threshold 0.5",
                      "properties": _numbers("tp", "fp", "tn", "fn", kind="integer")},
        "confusionMatrix": {"type": "object", "description": "The same counts as a matrix: rows the actual "
                                                             "class, columns the predicted one, negative first",
                            "properties": {"threshold": {"type": "number"},
                                           "labels": {"type": "array", "items": {"type": "string"}},
                                           "matrix": {"type": "array", "items": {"type": "array", "items": {
                                               "type": "integer"}}}}},
        "roc": {"type": "array", "maxItems": 50, "items": CURVE_POINT,
                "description": "ROC curve from threshold 1 down to (1, 1); a row is predicted positive when its "
                               "probability is at least the threshold"},
        "precisionRecall": {"type": "array", "maxItems": 50, "description": "Precision-recall curve, same "
                                                                            "thresholds",
                            "items": {"type": "object", "properties": _numbers("threshold", "precision",
                                                                               "recall")}},
        "featureImportance": {"type": "array", "description": "The ten features of highest average gain per "
                                                              "split; share: of the model's total gain",
                              "items": {"type": "object", "properties": {"feature": {"type": "string"},
                                                                         **_numbers("gain", "share")}}},
        "positiveLabel": {"type": "string"},
        "negativeLabel": {"type": "string"},
        "bestIteration": {"type": "integer"},
        "rows": {"type": "object", "properties": _numbers("train", "validation", "test", kind="integer")},
    },
}
META_ONE_OF = {
    "oneOf": [{"type": "string"}, {"type": "object", "properties": {"metrics": METRICS_DOC}}],
}

class TrainingMeta(ma.fields.Field):
    """An object, a JSON text encoding one, or any other text, which becomes a note."""

    default_error_messages = {
        "invalid": "Must be an object or a text.",
        "invalid_json": "Looks like JSON but is not a valid JSON object: {detail}",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            return value
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value.strip()
        if text == "":
            return {}
        if not text.startswith("{"):
            return {"note": text}
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise self.make_error("invalid_json", detail=str(exc))
        if not isinstance(parsed, dict):
            raise self.make_error("invalid_json", detail="not an object")
        return parsed


class TrainingCreateSchema(ma.Schema):
    uuid = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=200),
                            metadata={"description": "Client key, unique per account group: posting the same "
                                                     "uuid again returns the existing training"})
    meta = TrainingMeta(allow_none=True, metadata={"description": META_DESCRIPTION,
                                                   "example": '{"dataset": "german-credit"}'})
    scheduledAt = ma.fields.AwareDateTime(default_timezone=timezone.utc, allow_none=True,
                                          metadata={"description": "Run at this future time (ISO-8601, UTC "
                                                                   "if no offset) instead of now"})
    cron = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=100),
                            metadata={"description": "Repeat on this five-field cron schedule (UTC)"})
    accuracy = Ignored(allow_none=True)
    precission = Ignored(allow_none=True)
    precision = Ignored(allow_none=True)
    mae = Ignored(allow_none=True)
    rmse = Ignored(allow_none=True)
    binaryPath = Ignored(allow_none=True)
    version = Ignored(allow_none=True)

    @ma.validates("cron")
    def check_cron(self, value, **kwargs):
        if value is not None and (len(value.split()) != 5 or not croniter.is_valid(value)):
            raise ma.ValidationError("Must be a five-field cron expression, e.g. '0 3 * * *' (03:00 UTC daily).")

    @ma.post_load(pass_original=True)
    def clean(self, data, original, **kwargs):
        for name in ("accuracy", "precission", "precision", "mae", "rmse", "binaryPath", "version"):
            data.pop(name, None)
        meta, errors = check_meta(data.get("meta") or {})
        if errors:
            raise ma.ValidationError({"meta": errors})
        data["meta"] = meta
        data["metaAsText"] = isinstance(original.get("meta"), str)
        return data


class TrainingUpdateSchema(ma.Schema):
    """``PUT /trainings/{id}``: the fields a client may change; anything else sent is judged by the
    service (echoed unchanged: accepted; changed: 400 or 409 with the reason)."""

    class Meta:
        unknown = ma.INCLUDE

    meta = TrainingMeta(allow_none=True, metadata={
        "description": "Keys given replace the stored ones: note at any time, the other parameters only "
                       "while the training is scheduled or queued"})
    scheduledAt = ma.fields.AwareDateTime(default_timezone=timezone.utc, allow_none=True,
                                          metadata={"description": "A scheduled training's new start (future); "
                                                                   "null starts it now"})
    cron = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=100),
                            metadata={"description": "A scheduled training's new cron schedule; null stops "
                                                     "the repetition"})

    check_cron = TrainingCreateSchema.check_cron

    @ma.post_load
    def clean(self, data, **kwargs):
        if data.get("meta") is not None:
            meta, errors = check_meta(data["meta"])
            if errors:
                raise ma.ValidationError({"meta": errors})
            data["meta"] = meta
        return data


class ConfusionSchema(ma.Schema):
    tp = ma.fields.Integer()
    fp = ma.fields.Integer()
    tn = ma.fields.Integer()
    fn = ma.fields.Integer()


class TrainingSchema(ma.Schema):
    class Meta:
        complete_answer = True  # every field in every answer (maiascore.http.openapi)

    id = ma.fields.String()
    uuid = ma.fields.String(allow_none=True)
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    progress = ma.fields.Integer(metadata={"description": "0-100, rises as boosting rounds complete"})
    accuracy = ma.fields.Float(allow_none=True, metadata={"description": "Held-out accuracy at threshold 0.5"})
    precission = ma.fields.Float(allow_none=True, metadata={"description": "Held-out precision at threshold 0.5 "
                                                                           "(the contract's spelling)"})
    precision = ma.fields.Float(allow_none=True, metadata={"description": "Same as precission"})
    mae = ma.fields.Float(allow_none=True, metadata={"description": "Mean absolute error of P(good) vs the label"})
    rmse = ma.fields.Float(allow_none=True)
    binaryPath = ma.fields.String(allow_none=True, metadata={"description": "gridfs://models/<id>"})
    version = ma.fields.String(allow_none=True, metadata={"description": "Model version, increasing per group"})
    meta = ma.fields.Raw(metadata={"description": META_DESCRIPTION, "oneOf": META_ONE_OF["oneOf"]})
    active = ma.fields.Boolean(metadata={"description": "Its model is the account group's active model"})
    cron = ma.fields.String(allow_none=True)
    scheduledAt = ma.fields.DateTime(allow_none=True)
    startedAt = ma.fields.DateTime(allow_none=True)
    finishedAt = ma.fields.DateTime(allow_none=True)
    error = ma.fields.String(allow_none=True, metadata={"description": "Why it failed, or why it was re-queued"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    published_at = ma.fields.DateTime(allow_none=True)
    created_by = ma.fields.Integer(allow_none=True)
    updated_by = ma.fields.Integer(allow_none=True)

    @ma.pre_dump
    def shown(self, doc, **kwargs):
        """A stored training as the API shows it: ``meta`` in the shape it was sent (object or text),
        ``active`` as ``service.with_active`` marked it (one look-up of the active model per answer)."""
        meta = doc.get("meta") or {}
        return {
            "id": str(doc["_id"]),
            "uuid": doc.get("uuid"),
            "status": doc["status"],
            "progress": doc.get("progress", 0),
            "accuracy": doc.get("accuracy"),
            "precission": doc.get("precission"),
            "precision": doc.get("precission"),
            "mae": doc.get("mae"),
            "rmse": doc.get("rmse"),
            "binaryPath": doc.get("binaryPath"),
            "version": doc.get("version"),
            "meta": json.dumps(meta) if doc.get("metaAsText") else meta,
            "active": bool(doc.get("active")),
            "cron": doc.get("cron"),
            "scheduledAt": doc.get("scheduledAt"),
            "startedAt": doc.get("startedAt"),
            "finishedAt": doc.get("finishedAt"),
            "error": doc.get("error"),
            **entry_fields(doc),
        }


class ModelSchema(ma.Schema):
    class Meta:
        complete_answer = True  # every field in every answer (maiascore.http.openapi)

    id = ma.fields.String()
    version = ma.fields.String()
    training = ma.fields.String(metadata={"description": "Id of the training that produced it"})
    active = ma.fields.Boolean()
    binaryPath = ma.fields.String()
    metrics = ma.fields.Dict(metadata={"description": "Held-out metrics, as meta.metrics of its training",
                                       **{k: v for k, v in METRICS_DOC.items() if k != "description"}})
    schema = ma.fields.Dict(metadata={"description": "Feature schema: each feature's type, categories or range"})
    created_at = ma.fields.DateTime()
    activated_at = ma.fields.DateTime(allow_none=True)

    @ma.pre_dump
    def shown(self, doc, **kwargs):
        """A stored model without its binary (GridFS); ``/models`` lists dump it without ``schema``."""
        return {"id": str(doc["_id"]), "version": doc["version"], "training": doc["training"],
                "active": bool(doc.get("active")), "binaryPath": doc["binaryPath"],
                "metrics": doc.get("metrics") or {}, "schema": doc.get("schema") or {},
                "created_at": doc.get("created_at"), "activated_at": doc.get("activated_at")}


class ModelSummarySchema(ModelSchema):
    """A model in the registry's list: without its feature schema."""

    class Meta(ModelSchema.Meta):
        exclude = ("schema",)


