"""The monitoring read of a version over a window, the metric series dashboards and alerts draw,
and the baseline of a version trained before baselines existed."""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bson import ObjectId

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.errors import Conflict, Invalid, NotFound
from maiascore.modeling import FeatureSchema
from maiascore.monitoring import baselines, challengers, counters, metrics
from maiascore.datasets import sources
from maiascore.trainings.registry import active_model, load_model_bytes

log = logging.getLogger("maiascore.monitoring")
DEFAULT_WINDOW = timedelta(days=7)
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)  # outside these, window arithmetic leaves datetime's range
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)
METRICS = ("count", "score-psi", "feature-psi", "auc", "ks", "bad-rate", "calibration-error",
           "challenger-agreement")
MAX_SERIES_BINS = 1000


@dataclass(frozen=True)
class _Trained:
    schema: FeatureSchema
    booster_bytes: bytes


def model_of(aid, version):
    """The models doc of ``version`` (``active``: the active one) in the group, or 404 naming it."""
    if version == "active":
        doc = active_model(aid)
        if doc is None:
            raise NotFound("This account group has no active model yet: launch a training (POST /trainings)")
        return doc
    doc = get_db().models.find_one({"aid": aid, "version": str(version)})
    if doc is None:
        raise NotFound(f"No model version {version} in this account group")
    return doc


def window(start=None, end=None):
    """``[start, end)``: the last 7 days by default; at most MONITORING_MAX_WINDOW_DAYS long."""
    for name, moment in (("from", start), ("to", end)):
        if moment is not None and not EARLIEST <= moment <= LATEST:
            raise Invalid(f"window: '{name}' must be between 1970 and 9000")
    end = end or utcnow()
    start = start or end - DEFAULT_WINDOW
    if start >= end:
        raise Invalid("window: 'from' must be before 'to'")
    most = timedelta(days=settings().MONITORING_MAX_WINDOW_DAYS)
    if end - start > most:
        raise Invalid(f"window: from 'from' to 'to' spans more than {most.days} days "
                      "(MONITORING_MAX_WINDOW_DAYS)")
    return start, end


def baseline_of(model):
    """The version's baseline; built now from its training's data set if that still exists."""
    doc = baselines.load(model["aid"], model["version"])
    if doc is not None:
        return doc if not doc.get("unavailable") else None
    reason = _backfill(model)
    return baselines.load(model["aid"], model["version"]) if reason is None else None


def _backfill(model):
    training = (get_db().trainings.find_one({"_id": ObjectId(model["training"]), "aid": model["aid"]})
                if ObjectId.is_valid(model["training"]) else None)
    if training is None:
        reason = "its training no longer exists"
    else:
        meta = training.get("meta") or {}
        try:
            dataset, target = sources.resolve(model["aid"], meta).load()
            trained = _Trained(FeatureSchema.from_dict(model["schema"]), load_model_bytes(model))
            baselines.save(model["aid"], model["version"], baselines.from_training(trained, dataset, target, meta))
            return None
        except Exception as exc:  # gone, changed shape, unreadable: the version has no baseline
            log.info("no baseline for model %s of group %s: %s", model["version"], model["aid"], exc)
            reason = "its training data no longer exists as it was"
    get_db().model_baselines.update_one({"_id": baselines.baseline_id(model["aid"], model["version"])},
                                        {"$setOnInsert": {"aid": model["aid"], "version": model["version"],
                                                          "unavailable": reason}}, upsert=True)
    return reason


def monitoring(aid, version, start=None, end=None):
    """Everything ``GET /models/{version}/monitoring`` answers."""
    model = model_of(aid, version)
    start, end = window(start, end)
    baseline = baseline_of(model)
    if baseline is None:
        raise Conflict(f"Model version {model['version']} has no baseline: it was trained before baselines "
                       "existed and its training data no longer exists as it was")
    minimum = settings().MONITORING_MIN_COUNT
    total = metrics.summed(counters.window_docs(aid, model["version"], start, end))
    score, features = metrics.drift(baseline, total, minimum)
    edges = baseline["score"]["edges"]
    current = challengers.get(aid)
    out = {
        "version": model["version"], "active": bool(model.get("active")),
        "from": counters.hour_of(start), "to": end, "count": int(total.get("n", 0)),
        "scorePsi": score, "features": features,
        "performance": metrics.realized(total.get("o", {}), edges, minimum),
        "challenger": None,
        "comparisons": [metrics.challenger_figures(v, ch, minimum) for v, ch in sorted(total.get("ch", {}).items())],
        "minimumCount": minimum,
    }
    if current is not None and current["champion"] == model["version"]:
        out["challenger"] = {"version": current["version"], "since": current["set_at"]}
    return out


def series_value(metric, total, baseline, minimum, feature=None):
    """One metric over one bin's summed counters: ``(value, count)``; value None when withheld."""
    n = int(total.get("n", 0))
    if metric == "count":
        return n, n
    if metric in ("score-psi", "feature-psi"):
        if baseline is None:
            return None, n
        score, features = metrics.drift(baseline, total, minimum)
        if metric == "score-psi":
            return score["value"], score["count"]
        item = next((f for f in features if f["feature"] == feature), None)
        return (None, 0) if item is None else (item["value"], item["count"])
    if metric == "challenger-agreement":
        figures = [metrics.challenger_figures(v, ch, minimum) for v, ch in total.get("ch", {}).items()]
        n_ch = sum(f["count"] for f in figures)
        agree = sum(ch.get("agree", 0) for ch in total.get("ch", {}).values())
        return metrics.figure(agree / n_ch if n_ch else None, n_ch, minimum)["value"], n_ch
    edges = baseline["score"]["edges"] if baseline else None
    perf = metrics.realized(total.get("o", {}), edges, minimum)
    key = {"auc": "auc", "ks": "ks", "bad-rate": "badRate"}.get(metric)
    item = perf["calibration"]["error"] if metric == "calibration-error" else perf[key]
    return item["value"], item["count"]


def metric_series(aid, metric, start, end, bin_seconds, versions=None, features=None):
    """Model health as a time series, for dashboards and alerts.

    ``metric``: one of METRICS; ``[start, end)`` cut into bins of ``bin_seconds`` (whole hours:
    the counters are hourly); ``versions``: the model versions (default: every version that scored
    in the window); ``features``: for ``feature-psi``, the features (default: all of the version's).
    Returns points ``{"time", "version", "feature", "value", "count"}``, ``value`` None where
    the bin rests on fewer than MONITORING_MIN_COUNT reports or the version has no baseline.
    """
    if metric not in METRICS:
        raise Invalid(f"metric: unknown metric {metric!r}; known: {', '.join(METRICS)}")
    start, end = window(start, end)
    bin_seconds = max(3600, int(bin_seconds) // 3600 * 3600)
    first = counters.hour_of(start)
    if (end - first).total_seconds() / bin_seconds > MAX_SERIES_BINS:
        raise Invalid(f"bins: more than {MAX_SERIES_BINS} bins in the window; ask for larger bins")
    minimum = settings().MONITORING_MIN_COUNT
    wanted = None if versions is None else {str(v) for v in versions}
    grouped = {}
    for doc in get_db().monitoring_counts.find({"aid": aid, "hour": {"$gte": first, "$lt": end}}, {"ap": 0}):
        if wanted is not None and doc["version"] not in wanted:
            continue
        hour = doc["hour"] if doc["hour"].tzinfo else doc["hour"].replace(tzinfo=start.tzinfo)
        slot = first + timedelta(seconds=(hour - first).total_seconds() // bin_seconds * bin_seconds)
        metrics.add_into(grouped.setdefault((doc["version"], slot), {}), doc)
    points = []
    cache = {}
    for (version, slot), total in sorted(grouped.items(), key=lambda kv: (kv[0][1], _version_key(kv[0][0]))):
        if version not in cache:
            model = get_db().models.find_one({"aid": aid, "version": version})
            cache[version] = baseline_of(model) if model is not None else None
        baseline = cache[version]
        if metric == "feature-psi":
            names = [f["name"] for f in baseline["features"]] if baseline else []
            for name in names if features is None else [n for n in names if n in features]:
                value, count = series_value(metric, total, baseline, minimum, name)
                points.append({"time": slot, "version": version, "feature": name, "value": value, "count": count})
        else:
            value, count = series_value(metric, total, baseline, minimum)
            points.append({"time": slot, "version": version, "feature": None, "value": value, "count": count})
    return points


def _version_key(version):
    return (0, int(version)) if version.isdigit() else (1, version)
