"""Model health as the API reads and writes it."""
from datetime import timezone

import marshmallow as ma

from maiascore.monitoring.service import METRICS


class AwareDateTime(ma.fields.AwareDateTime):
    """ISO 8601; a time without an offset is UTC."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=timezone.utc, **kwargs)


class WindowArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    start = AwareDateTime(data_key="from", load_default=None,
                          metadata={"description": "Start of the window (default: `to` minus 7 days); counted "
                                                   "from the start of its hour"})
    end = AwareDateTime(data_key="to", load_default=None, metadata={"description": "End of the window (default: now)"})


class FigureSchema(ma.Schema):
    value = ma.fields.Float(allow_none=True, metadata={"description": "null when it rests on too few reports"})
    count = ma.fields.Integer(metadata={"description": "The reports the figure rests on"})
    note = ma.fields.String(metadata={"description": "Why the value is null"})


class PsiSchema(FigureSchema):
    status = ma.fields.String(allow_none=True, metadata={"enum": ["stable", "moderate", "shifted"],
                                                         "description": "< 0.1 stable, < 0.25 moderate, else shifted"})


class MissingRateSchema(ma.Schema):
    now = ma.fields.Float(allow_none=True)
    baseline = ma.fields.Float()


class FeaturePsiSchema(PsiSchema):
    feature = ma.fields.String()
    missingRate = ma.fields.Nested(MissingRateSchema)


class BandSchema(ma.Schema):
    band = ma.fields.Integer()
    start = ma.fields.Float(data_key="from", attribute="from", allow_none=True,
                            metadata={"description": "Lowest score of the band (null: open)"})
    end = ma.fields.Float(data_key="to", attribute="to", allow_none=True,
                          metadata={"description": "Scores below this (null: open)"})
    count = ma.fields.Integer()
    badRate = ma.fields.Float(allow_none=True)


class CalibrationBandSchema(ma.Schema):
    band = ma.fields.Integer()
    count = ma.fields.Integer()
    predictedBadRate = ma.fields.Float()
    observedBadRate = ma.fields.Float()


class CalibrationSchema(ma.Schema):
    bands = ma.fields.List(ma.fields.Nested(CalibrationBandSchema))
    error = ma.fields.Nested(FigureSchema, metadata={"description": "Count-weighted mean |predicted - observed|"})
    brier = ma.fields.Nested(FigureSchema)


class PerformanceSchema(ma.Schema):
    labelled = ma.fields.Integer(metadata={"description": "Reports of the window with an outcome"})
    auc = ma.fields.Nested(FigureSchema)
    gini = ma.fields.Nested(FigureSchema)
    ks = ma.fields.Nested(FigureSchema)
    badRate = ma.fields.Nested(FigureSchema)
    bands = ma.fields.List(ma.fields.Nested(BandSchema))
    calibration = ma.fields.Nested(CalibrationSchema)


class RankingSchema(ma.Schema):
    auc = ma.fields.Nested(FigureSchema)
    ks = ma.fields.Nested(FigureSchema)


class ComparisonSchema(ma.Schema):
    version = ma.fields.String(metadata={"description": "The challenger's version"})
    count = ma.fields.Integer(metadata={"description": "Reports scored by both"})
    agreement = ma.fields.Nested(FigureSchema, metadata={"description": "Share with the same good/bad decision "
                                                                        "(P(good) >= 0.5)"})
    scoreCorrelation = ma.fields.Nested(FigureSchema)
    labelled = ma.fields.Integer()
    champion = ma.fields.Nested(RankingSchema)
    challenger = ma.fields.Nested(RankingSchema)


class CurrentChallengerSchema(ma.Schema):
    version = ma.fields.String()
    since = ma.fields.DateTime()


class MonitoringSchema(ma.Schema):
    version = ma.fields.String()
    active = ma.fields.Boolean()
    start = ma.fields.DateTime(data_key="from", attribute="from")
    end = ma.fields.DateTime(data_key="to", attribute="to")
    count = ma.fields.Integer(metadata={"description": "Reports this version scored in the window"})
    minimumCount = ma.fields.Integer(metadata={"description": "Fewest reports a figure is given on"})
    scorePsi = ma.fields.Nested(PsiSchema)
    features = ma.fields.List(ma.fields.Nested(FeaturePsiSchema), metadata={"description": "Worst first"})
    performance = ma.fields.Nested(PerformanceSchema)
    challenger = ma.fields.Nested(CurrentChallengerSchema, allow_none=True)
    comparisons = ma.fields.List(ma.fields.Nested(ComparisonSchema),
                                 metadata={"description": "Each challenger that shadowed this version in the window"})


class BaselineSchema(ma.Schema):
    version = ma.fields.String()
    rows = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    score = ma.fields.Dict(metadata={"description": "`edges` of the held-out score deciles and `counts` per bin"})
    features = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "Per feature: numeric `edges` (bins '0'..'n', 'm' missing) or categorical `kept` codes "
                       "and their `categories` ('o' other, 'm' missing), `counts` per bin, `missingRate`"})


class ChallengerInputSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    version = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40),
                               metadata={"description": "A model version of this account group, not the active one"})


class ChallengerSchema(ma.Schema):
    version = ma.fields.String()
    champion = ma.fields.String(metadata={"description": "The active version it shadows"})
    set_at = ma.fields.DateTime(data_key="since")


class SeriesArgs(WindowArgs):
    metric = ma.fields.String(required=True, validate=ma.validate.OneOf(METRICS))
    bin = ma.fields.Integer(load_default=86400, validate=ma.validate.Range(3600, 93 * 86400),
                            metadata={"description": "Seconds per point, rounded down to whole hours"})
    version = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=40)), load_default=None,
                             validate=ma.validate.Length(max=20))
    feature = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=200)), load_default=None,
                             validate=ma.validate.Length(max=100))


class PointSchema(ma.Schema):
    time = ma.fields.DateTime()
    version = ma.fields.String()
    feature = ma.fields.String(allow_none=True)
    value = ma.fields.Float(allow_none=True)
    count = ma.fields.Integer()
