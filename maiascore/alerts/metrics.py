"""What an alert rule can watch: a registry of metrics, each a function measuring one window.

A metric has an expression name (``failureRate``), the data source and metric a dashboard
widget calls it by, a unit, and ``compute(aid, condition, start, end) -> Measurement``.
Score Reports and Trainings metrics measure through the widgets' own aggregation
(``dashboards.planner``), so a rule and the widget it sits on always agree. Another data
source plugs in with ``register(AlertMetric(...))`` and a function of the same shape.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

from maiascore.connections import get_db
from maiascore.dashboards import planner
from maiascore.dashboards import widgets as W
from maiascore.dashboards.timerange import TimeRange
from maiascore.errors import Invalid
from maiascore.monitoring.service import metric_series
from maiascore.trainings.registry import active_model


@dataclass(frozen=True)
class Measurement:
    value: Optional[float]
    count: int


@dataclass(frozen=True)
class AlertMetric:
    key: str                 # the name in a rule's expression, e.g. failureRate
    data_source: str         # as widgets name it, e.g. Score Reports
    metric: str              # e.g. Failure Rate
    compute: Callable        # (aid, condition, start, end) -> Measurement
    unit: str = ""           # "%" or "s", shown in expressions and notifications
    measured: bool = False   # takes a measure (Mean, Median, ...) like a widget's value metric
    clean: Callable = None   # (condition) -> condition with its measure and filters checked
    aliases: tuple = field(default=())


REGISTRY = {}


def register(metric):
    for key in (metric.key, *metric.aliases):
        REGISTRY[key] = metric
    return metric


def by_key(key):
    metric = REGISTRY.get(key)
    if metric is None:
        raise Invalid(f"expression metric {key!r} is not known; use one of {_keys()}")
    return metric


def by_name(data_source, name):
    for metric in REGISTRY.values():
        if metric.data_source == data_source and metric.metric == name:
            return metric
    sources = sorted({m.data_source for m in REGISTRY.values()})
    if data_source not in sources:
        raise Invalid(f"dataSource {data_source!r} is not supported by alert rules; use one of "
                      + ", ".join(f"'{s}'" for s in sources))
    offered = sorted({m.metric for m in REGISTRY.values() if m.data_source == data_source})
    raise Invalid(f"metric {name!r} is not offered by data source '{data_source}'; use one of "
                  + ", ".join(f"'{m}'" for m in offered))


def catalogue():
    """Every metric once, for documentation and the console."""
    seen = {}
    for metric in REGISTRY.values():
        seen.setdefault(metric.key, metric)
    return list(seen.values())


def _keys():
    return ", ".join(sorted({m.key for m in REGISTRY.values()}))


# --- widget metrics -------------------------------------------------------------------------


def _clean_widget_condition(source, metric):
    """The measure and filters a widget of this metric would accept, checked by the widget code itself."""
    def clean(condition):
        raw = {"type": W.NUMBER, "dataSource": source.name, "metric": metric.name}
        if condition.get("measure") and not metric.is_count:
            raw["measure"] = condition["measure"]
        if condition.get("filters"):
            raw["filters"] = condition["filters"]
        try:
            [widget] = W.clean_widgets([raw])
        except Invalid as problem:
            raise Invalid(str(problem.message).split(": ", 1)[-1])
        cleaned = dict(condition)
        cleaned.pop("measure", None)
        cleaned.pop("filters", None)
        if widget.get("measure"):
            cleaned["measure"] = widget["measure"]
        if widget.get("filters"):
            cleaned["filters"] = widget["filters"]
        return cleaned
    return clean


def _widget_compute(source, metric, ratio=False):
    def compute(aid, condition, start, end):
        ctx = planner.Context(get_db(), aid)
        measure = None if metric.is_count else (condition.get("measure") or {"type": W.MEAN})
        query = planner.Query(source, metric, measure, condition.get("filters") or None, None, TimeRange(start, end))
        rows = planner.grouped_rows(ctx, query)
        count = sum(row["count"] for row in rows)
        value = rows[0]["value"] if rows else None
        if ratio:
            value = 100.0 * value / count if count else None
        return Measurement(None if value is None else float(value), count)
    return compute


def _widget_metric(key, source, metric_name, unit="", ratio_of=None, name=None, aliases=()):
    metric = source.metrics[ratio_of or metric_name]
    return register(AlertMetric(key=key, data_source=source.name, metric=name or metric_name,
                                compute=_widget_compute(source, metric, ratio=bool(ratio_of)), unit=unit,
                                measured=not metric.is_count, clean=_clean_widget_condition(source, metric),
                                aliases=aliases))


_widget_metric("failureRate", W.SCORE_REPORTS, None, unit="%", ratio_of="Failed Reports", name="Failure Rate")
_widget_metric("reportCount", W.SCORE_REPORTS, "Report Count")
_widget_metric("failedReports", W.SCORE_REPORTS, "Failed Reports")
_widget_metric("processingTime", W.SCORE_REPORTS, "Processing Time", unit="s")
_widget_metric("score", W.SCORE_REPORTS, "Score", aliases=("meanScore",))
_widget_metric("scoreProbability", W.SCORE_REPORTS, "Score Probability")
_widget_metric("scoreConfidence", W.SCORE_REPORTS, "Score Confidence")
_widget_metric("trainingAccuracy", W.TRAININGS, "Accuracy")
_widget_metric("trainingPrecision", W.TRAININGS, "Precision")
_widget_metric("trainingAuc", W.TRAININGS, "AUC")
_widget_metric("trainingMae", W.TRAININGS, "MAE")
_widget_metric("trainingRmse", W.TRAININGS, "RMSE")
_widget_metric("trainingDuration", W.TRAININGS, "Training Duration", unit="s")


# --- model health ---------------------------------------------------------------------------
# Measured by monitoring's own series (the per-version hourly counters, so over the whole hours the
# window touches) for the group's active version; Feature PSI is the worst feature's.

def _health_compute(series_metric):
    def compute(aid, condition, start, end):
        model = active_model(aid)
        if model is None:
            return Measurement(None, 0)
        span = max(3600, int((end - start).total_seconds()) + 3600)
        points = metric_series(aid, series_metric, start, end, span, versions=[model["version"]])
        if not points:
            return Measurement(None, 0)
        if series_metric == "feature-psi":
            valued = [p for p in points if p["value"] is not None]
            worst = max(valued, key=lambda p: p["value"]) if valued else points[0]
            return Measurement(worst["value"], worst["count"])
        value = points[0]["value"]
        return Measurement(None if value is None else float(value), points[0]["count"])
    return compute


def _health_metric(key, name):
    return register(AlertMetric(key=key, data_source=W.MODEL_HEALTH.name, metric=name,
                                compute=_health_compute(W.MODEL_HEALTH.metrics[name].field)))


_health_metric("scorePsi", "Score PSI")
_health_metric("featurePsi", "Feature PSI")
_health_metric("auc", "AUC")
_health_metric("ks", "KS")
_health_metric("badRate", "Bad Rate")
_health_metric("calibrationError", "Calibration Error")
_health_metric("challengerAgreement", "Challenger Agreement")
