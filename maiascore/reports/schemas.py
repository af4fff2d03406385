"""What a score report accepts, how it is shown, and what a list of them can be filtered by.

Input follows the documented example body: every field of it is accepted, the computed
ones (``processed``, ``score``...) are then dropped, so a client echoing a report it
received back to ``PUT`` is not refused. Output is :class:`ScoreReportSchema`, dumped by
the routes' ``@blp.response``: the one description of a report, for answers and docs.
"""
from datetime import datetime

import marshmallow as ma
from bson import ObjectId
from marshmallow.utils import missing

from maiascore.auth.schemas import PublicUserSchema
from maiascore.errors import status_of
from maiascore.http.fields import Ignored, JSONObject
from maiascore.reports.states import STATUSES

REPORT_TYPES = ("reference",)
MAX_FEATURES = 500
MAX_NAME_LENGTH = 200
MAX_TEXT_LENGTH = 1000
INT64 = range(-2**63, 2**63)  # what BSON stores: a larger JSON integer cannot be kept, so it is refused
COMPUTED_FIELDS = ("id", "processed", "status", "score", "scoreProbability", "scoreConfidence", "scoreVersion",
                   "explanation", "warnings", "error", "processed_at", "published_at", "created_at", "updated_at",
                   "created_by", "updated_by")


class Text(ma.fields.String):
    """A short text; a JSON number is taken as its decimal text (reference ids often are numbers)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        value = super()._deserialize(value, attr, data, **kwargs)
        return value.strip() or None

    def _validate(self, value):
        if value is not None:  # a blank text became None: nothing to measure
            super()._validate(value)


class Features(JSONObject):
    """Feature name to a scalar value; sent as an object, a JSON text (forms) or XML child elements."""

    default_error_messages = {
        "invalid": "Must be an object of feature name to value, or a JSON text encoding one.",
        "too_many": f"At most {MAX_FEATURES} features.",
        "bad_name": f"Feature names are non-empty texts of at most {MAX_NAME_LENGTH} characters.",
        "bad_value": "Feature values are texts, numbers (integers within 64 bits), booleans or null; "
                     "{names} are not.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        features = super()._deserialize(value, attr, data, **kwargs)
        if len(features) > MAX_FEATURES:
            raise self.make_error("too_many")
        bad = []
        for name, item in features.items():
            if not name or len(name) > MAX_NAME_LENGTH:
                raise self.make_error("bad_name")
            if isinstance(item, str):
                if len(item) > MAX_TEXT_LENGTH:
                    bad.append(name)
            elif item is not None and not isinstance(item, (int, float, bool)):
                bad.append(name)
            elif isinstance(item, int) and item not in INT64:
                bad.append(name)
        if bad:
            raise self.make_error("bad_value", names=", ".join(sorted(bad)[:10]))
        return features


class Outcome(ma.fields.Field):
    """The observed result, the label a report gets for training: ``good``/``bad``, or 1/0."""

    default_error_messages = {"invalid": "Must be 'good', 'bad', 1, 0 or null."}
    GOOD = ("good", "1", "true")
    BAD = ("bad", "0", "false")

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip().lower() if not isinstance(value, bool) else str(value).lower()
        if isinstance(value, float) and value in (0.0, 1.0):
            text = str(int(value))
        if text in self.GOOD:
            return "good"
        if text in self.BAD:
            return "bad"
        if text in ("", "null", "none"):
            return None
        raise self.make_error("invalid")


class UserRef(ma.fields.Field):
    """The report's user: an id, a username or an email, or the user object a GET returned."""

    default_error_messages = {"invalid": "Must be a user id, username or email, or an object with an id."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            value = value.get("id")
        if isinstance(value, bool) or value is None:
            raise self.make_error("invalid")
        if isinstance(value, str) and 0 < len(value.strip()) <= 256:
            value = value.strip()
            if not value.isdigit():
                return value
            value = int(value)
        if isinstance(value, int) and value in INT64:  # user ids are; a larger one cannot even be looked up
            return value
        raise self.make_error("invalid")


class ScoreReportInputSchema(ma.Schema):
    """The fields a client sets. Computed fields are accepted and ignored; others are refused."""

    class Meta:
        unknown = ma.RAISE

    uuid = Text(allow_none=True, validate=ma.validate.Length(max=MAX_NAME_LENGTH),
                metadata={"description": "Client key, unique per account group: sending it again returns "
                                         "the existing report instead of creating a second one"})
    referenceId = Text(allow_none=True, validate=ma.validate.Length(max=MAX_NAME_LENGTH),
                       metadata={"description": "The client's reference (applicant, contract...)"})
    type = ma.fields.String(load_default="reference",
                            metadata={"description": "Only 'reference' exists; another value answers 400"})
    users_permissions_user = UserRef(
        allow_none=True,
        metadata={"description": "Owner: defaults to the caller; someone else needs Manage Users. "
                                 "The placeholder \"string\" that generated clients send counts as not set"})
    features = Features(allow_none=True,
                        metadata={"type": "object", "additionalProperties": True,
                                  "description": "Feature name to value: the input to score (forms may send "
                                                 "it as a JSON text)"})
    outcome = Outcome(allow_none=True, metadata={"description": "Observed result for training: good/bad or 1/0"})
    processed = Ignored(allow_none=True)
    score = Ignored(allow_none=True)
    scoreProbability = Ignored(allow_none=True)
    scoreConfidence = Ignored(allow_none=True)
    scoreVersion = Ignored(allow_none=True)
    published_at = Ignored(allow_none=True)
    created_by = Ignored(allow_none=True)
    updated_by = Ignored(allow_none=True)
    id = Ignored(allow_none=True)
    status = Ignored(allow_none=True)
    explanation = Ignored(allow_none=True)
    warnings = Ignored(allow_none=True)
    error = Ignored(allow_none=True)
    processed_at = Ignored(allow_none=True)
    created_at = Ignored(allow_none=True)
    updated_at = Ignored(allow_none=True)

    @ma.post_load
    def drop_computed(self, data, **kwargs):
        return {key: value for key, value in data.items() if key not in COMPUTED_FIELDS}


class ScoreReportUpdateSchema(ScoreReportInputSchema):
    """``PUT``: any subset of the input fields (load it with ``partial=True``)."""


class ScoreContributionSchema(ma.Schema):
    feature = ma.fields.String()
    value = ma.fields.Raw(allow_none=True, metadata={"description": "The value sent for the feature"})
    contribution = ma.fields.Float(metadata={"description": "Log-odds pushed towards 'good' (SHAP value)"})


class Contributions(ma.fields.List):
    """Documented as a list of :class:`ScoreContributionSchema`; dumped as stored, since the scoring job
    writes exactly that shape (JSON-ready), and a nested dump per item would double a page's cost."""

    def __init__(self, **kwargs):
        super().__init__(ma.fields.Nested(ScoreContributionSchema), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return value or []


class DocumentSchema(ma.Schema):
    """The one fast serializer, for the hot report answers: dumps stored documents (dicts) field by field
    with the schema's own fields, without marshmallow's generic per-field path (accessors, hooks), which
    is most of the cost of a page of reports. Every other answer is a plain schema dump. A subclass has
    no dump hooks; ``test_reports_schemas`` holds both paths equal."""

    def dump(self, obj, *, many=None):
        many = self.many if many is None else many
        plan = [(field.data_key or name, field.attribute or name, field, field.dump_default)
                for name, field in self.dump_fields.items()]
        if many:
            return [self._dump_document(doc, plan) for doc in obj]
        return self._dump_document(obj, plan)

    @staticmethod
    def _dump_document(doc, plan):
        shown = {}
        for key, attr, field, default in plan:
            value = doc.get(attr, missing)
            if value is missing:
                value = default() if callable(default) else default
                if value is missing:
                    continue
            shown[key] = field._serialize(value, attr, doc)
        return shown


class Owner(ma.fields.Nested):
    """The owner ``service.with_owners`` set (a stored user and the caller's ``aid``), in the one shape
    a user leaves the API in: :class:`PublicUserSchema`'s, whose values are already JSON types, so a
    page of reports is not dumped a second time per report."""

    def __init__(self, **kwargs):
        super().__init__(PublicUserSchema, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else self.schema.shown(value)


class ScoreReportSchema(DocumentSchema):
    """A stored report as the API shows it. Dumps a report document whose ``owner`` the service set
    (the expanded ``users_permissions_user``, see ``service.with_owners``); a key a document lacks is
    shown with its default, so every answer has every field (each is ``required`` in the document)."""

    id = ma.fields.String(required=True, attribute="_id")
    uuid = ma.fields.String(required=True, allow_none=True, dump_default=None)
    referenceId = ma.fields.String(required=True, allow_none=True, dump_default=None)
    type = ma.fields.String(required=True, dump_default="reference")
    processed = ma.fields.Boolean(required=True, dump_default=False)
    status = ma.fields.String(required=True, dump_default=None, metadata={"enum": list(STATUSES)})
    users_permissions_user = Owner(required=True, attribute="owner", allow_none=True, dump_default=None)
    score = ma.fields.Integer(required=True, allow_none=True, dump_default=None,
                              metadata={"description": "Points, 300-850 by default"})
    scoreProbability = ma.fields.Float(required=True, allow_none=True, dump_default=None,
                                       metadata={"description": "P(good)"})
    scoreConfidence = ma.fields.Float(required=True, allow_none=True, dump_default=None,
                                      metadata={"description": "0-1: share of the model's evidence the "
                                                               "features provided"})
    scoreVersion = ma.fields.String(required=True, allow_none=True, dump_default=None,
                                    metadata={"description": "Model version used"})
    explanation = Contributions(required=True, dump_default=list)
    warnings = ma.fields.List(ma.fields.String(), required=True, dump_default=list)
    features = ma.fields.Dict(required=True, dump_default=dict)
    outcome = ma.fields.String(required=True, allow_none=True, dump_default=None)
    error = ma.fields.String(required=True, allow_none=True, dump_default=None)
    processed_at = ma.fields.DateTime(required=True, allow_none=True, dump_default=None)
    published_at = ma.fields.DateTime(required=True, allow_none=True, dump_default=None)
    created_at = ma.fields.DateTime(required=True, dump_default=None)
    updated_at = ma.fields.DateTime(required=True, dump_default=None)
    created_by = ma.fields.Integer(required=True, allow_none=True, dump_default=None)
    updated_by = ma.fields.Integer(required=True, allow_none=True, dump_default=None)


class BulkItemErrorSchema(ma.Schema):
    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code the item alone would have had"})
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(metadata={"description": "Validation detail, field by field"})


class ItemError(ma.fields.Nested):
    """A refused item's domain error, shown as the error body the item alone would have had (on /reports,
    where a validation failure is 422)."""

    def __init__(self, **kwargs):
        super().__init__(BulkItemErrorSchema, **kwargs)

    def _serialize(self, error, attr, obj, **kwargs):
        if error is None:
            return None
        shown = {"code": status_of(error), "message": error.message}
        if error.errors:
            shown["errors"] = error.errors
        return shown


class ScoreReportBulkItemSchema(ma.Schema):
    index = ma.fields.Integer(required=True, metadata={"description": "Position in the request"})
    id = ma.fields.String(metadata={"description": "The report's id (an existing one for a known uuid)"})
    error = ItemError()


class ScoreReportBulkResultSchema(ma.Schema):
    reports = ma.fields.List(ma.fields.Nested(ScoreReportBulkItemSchema), required=True)
    accepted = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)


class ScoreReportCreatedSchema(ma.Schema):
    """``POST /reports`` answers one report (object body) or a :class:`BulkResult` (list body, which
    ``POST /reports/bulk`` documents); ``openapi`` is what the docs show (see ``routes.Blueprint``):
    a choice of shapes would leave generated clients unable to pick one."""

    openapi = ScoreReportSchema

    def dump(self, obj, *, many=None):
        if isinstance(obj, BulkResult):
            return _bulk_result_schema.dump(obj)
        return _report_schema.dump(obj)


class CountSchema(ma.Schema):
    """A bare number of reports."""

    openapi = {"type": "integer"}

    def dump(self, obj, *, many=None):
        return int(obj)


class BulkResult:
    """What a bulk POST did, item by item in request order."""

    def __init__(self, reports):
        self.reports = reports
        self.accepted = sum(1 for r in reports if "id" in r)
        self.rejected = len(reports) - self.accepted


_report_schema = ScoreReportSchema()
_bulk_result_schema = ScoreReportBulkResultSchema()


# What a list can be filtered and sorted by: API name -> (stored path, type) (``maiascore.http.strapi``).
LIST_FIELDS = {
    "id": ("_id", ObjectId),
    "uuid": ("uuid", str),
    "referenceId": ("referenceId", str),
    "type": ("type", str),
    "processed": ("processed", bool),
    "status": ("status", str),
    "score": ("score", int),
    "scoreProbability": ("scoreProbability", float),
    "scoreConfidence": ("scoreConfidence", float),
    "scoreVersion": ("scoreVersion", str),
    "outcome": ("outcome", str),
    "users_permissions_user": ("users_permissions_user", int),
    "created_by": ("created_by", int),
    "created_at": ("created_at", datetime),
    "updated_at": ("updated_at", datetime),
    "processed_at": ("processed_at", datetime),
    # Published on creation and never changed: the (aid, created_at) index serves both.
    "published_at": ("created_at", datetime),
    "updated_by": ("updated_by", int),
    "error": ("error", str),
}


# What Strapi's ``_q`` searches: the client's own keys.
SEARCH_FIELDS = ("uuid", "referenceId")


class WaitQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    wait = ma.fields.Float(validate=ma.validate.Range(min=0),
                           metadata={"description": "Seconds (at most MAX_WAIT_SECONDS, 30) to wait for the "
                                                    "score before answering; also `Prefer: wait=N`"})
