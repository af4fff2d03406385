"""What a score report accepts and how it is shown.

Input follows the seeds: every field of their example body is accepted, the computed
ones (``processed``, ``score``...) are then dropped, so a client echoing a report it
received back to ``PUT`` is not refused.
"""
import marshmallow as ma

from maiascore.auth.schemas import PublicUserSchema
from maiascore.http.api import ErrorSchema
from maiascore.http.fields import Ignored, JSONObject

REPORT_TYPES = ("reference",)
STATUSES = ("queued", "processed", "failed", "waiting_for_model")
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
                                 "The seeds' placeholder \"string\" counts as not set"})
    features = Features(allow_none=True,
                        metadata={"description": "Feature name to value: the input to score"})
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


class ScoreReportSchema(ma.Schema):
    id = ma.fields.String()
    uuid = ma.fields.String(allow_none=True)
    referenceId = ma.fields.String(allow_none=True)
    type = ma.fields.String()
    processed = ma.fields.Boolean()
    status = ma.fields.String(metadata={"enum": list(STATUSES)})
    users_permissions_user = ma.fields.Nested(PublicUserSchema, allow_none=True)
    score = ma.fields.Integer(allow_none=True, metadata={"description": "Points, 300-850 by default"})
    scoreProbability = ma.fields.Float(allow_none=True, metadata={"description": "P(good)"})
    scoreConfidence = ma.fields.Float(allow_none=True,
                                      metadata={"description": "0-1: share of the model's evidence the "
                                                               "features provided"})
    scoreVersion = ma.fields.String(allow_none=True, metadata={"description": "Model version used"})
    explanation = ma.fields.List(ma.fields.Nested(ScoreContributionSchema))
    warnings = ma.fields.List(ma.fields.String())
    features = ma.fields.Dict()
    outcome = ma.fields.String(allow_none=True)
    error = ma.fields.String(allow_none=True)
    processed_at = ma.fields.DateTime(allow_none=True)
    published_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    created_by = ma.fields.Integer(allow_none=True)
    updated_by = ma.fields.Integer(allow_none=True)


class ScoreReportBulkItemSchema(ma.Schema):
    index = ma.fields.Integer(metadata={"description": "Position in the request"})
    id = ma.fields.String(metadata={"description": "The report's id (an existing one for a known uuid)"})
    error = ma.fields.Nested(ErrorSchema)


class ScoreReportBulkResultSchema(ma.Schema):
    reports = ma.fields.List(ma.fields.Nested(ScoreReportBulkItemSchema))
    accepted = ma.fields.Integer()
    rejected = ma.fields.Integer()


class WaitQuerySchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    wait = ma.fields.Float(validate=ma.validate.Range(min=0),
                           metadata={"description": "Seconds (at most MAX_WAIT_SECONDS, 30) to wait for the "
                                                    "score before answering; also `Prefer: wait=N`"})
