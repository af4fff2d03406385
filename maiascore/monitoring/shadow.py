"""What a scoring pass adds to its write: the counters' deltas and the challenger's score.

``reports.scoring``'s scored writes call :func:`scoring_pass` with the reports and results of one write, merges
``updates[i]`` into each report's guarded update (or ``fields(i)`` into a report it inserts),
and calls ``settle`` once the write returned. No web framework here: workers and the request lane call it.
"""
import time

import numpy as np

from maiascore.clock import stored_now
from maiascore.connections import get_db
from maiascore.modeling import FeatureSchema, ScoringModel, build_matrix, to_dmatrix
from maiascore.monitoring import baselines, challengers, counters
from maiascore.monitoring.baselines import score_scale
from maiascore.monitoring.bins import feature_labels
from maiascore.trainings.registry import load_model_bytes

BASELINE_RECHECK_SECONDS = 30.0  # how long a version seen without a baseline is trusted to have none
_baselines = {}  # (aid, version) -> (baseline or None, monotonic read time)
_schemas = {}  # (aid, version) -> FeatureSchema
_models = {}  # (aid, version) -> (ScoringModel of a challenger, its P(good) for a record with no feature)


def _baseline(aid, version):
    cached = _baselines.get((aid, version))
    if cached is not None and (cached[0] is not None or time.monotonic() - cached[1] < BASELINE_RECHECK_SECONDS):
        return cached[0]
    doc = baselines.load(aid, version)
    _baselines[(aid, version)] = (doc, time.monotonic())
    return doc


def _schema(aid, version):
    if (aid, version) not in _schemas:
        doc = get_db().models.find_one({"aid": aid, "version": version}, {"schema": 1})
        _schemas[(aid, version)] = FeatureSchema.from_dict(doc["schema"]) if doc else None
    return _schemas[(aid, version)]


def _challenger_model(aid, version):
    if (aid, version) not in _models:
        doc = get_db().models.find_one({"aid": aid, "version": version})
        if doc is None:
            return None
        model = ScoringModel.from_bytes(load_model_bytes(doc), doc["schema"], version, score_scale())
        bias = model.booster.predict(to_dmatrix(model.schema, build_matrix(model.schema, [{}])), pred_contribs=True)
        _models[(aid, version)] = (model, float(1.0 / (1.0 + np.exp(-bias[0, -1]))))
    return _models[(aid, version)]


def shadow_scores(challenger, records):
    """``(score, P(good))`` per record as ``ScoringModel.score`` gives them, without explanations: what
    the challenger would have answered."""
    model, empty_proba = challenger
    matrix = build_matrix(model.schema, records)
    proba = model.booster.predict(to_dmatrix(model.schema, matrix))
    empty = np.isnan(matrix.values).all(axis=1)
    proba = np.where(empty, empty_proba, proba)
    return list(zip(model.scale.scores(proba).tolist(), np.round(proba.astype(np.float64), 6).tolist()))


def merge(update, extra):
    """``update`` with ``extra``'s operators added (their fields never overlap)."""
    out = dict(update)
    for op, fields in extra.items():
        out[op] = {**out.get(op, {}), **fields}
    return out


class ScoringPass:
    """One write's worth of scored reports, seen by monitoring."""

    def __init__(self, aid, version, reports, results, deferred=False):
        self.aid, self.deferred = aid, deferred
        self.token = counters.new_token()
        self.reports = reports
        now = stored_now()
        hour = counters.hour_of(now)
        records = [r.get("features") or {} for r in reports]
        baseline = _baseline(aid, version)
        schema = _schema(aid, version) if baseline is not None else None
        if schema is not None:
            matrix = build_matrix(schema, records)
            labels = feature_labels(baseline, matrix.values, matrix.unseen).tolist()
        else:
            labels = [[] for _ in reports]
        shadow = challengers.for_scoring(aid, version)
        challenger = _challenger_model(aid, shadow) if shadow is not None else None
        shadowed = shadow_scores(challenger, records) if challenger is not None else [None] * len(reports)
        self.sets, items = [], []
        for report, result, bins, other in zip(reports, results, labels, shadowed):
            mon = {"a": aid, "v": version, "h": hour, "s": result.score, "p": result.probability,
                   "o": report.get("outcome")}
            fields = {"mon": mon, **counters.token_fields(self.token, report)}
            if other is not None:
                mon.update(cv=shadow, cs=other[0], cp=other[1])
                fields["challenger"] = {"version": shadow, "score": other[0], "scoreProbability": other[1]}
            delta = counters.scored(mon, bins)
            old = report.get("mon")
            if old:  # scored before: its outcome moves from its old counter document to this one
                items.append((report["_id"], old, counters.labelled({}, old, old.get("o"), -1)))
            items.append((report["_id"], mon, delta))
            self.sets.append(fields)
        self.items = counters.record_pending(self.token, items, due=aid if deferred else None)

    def update(self, i):
        """The operators to merge into report ``i``'s guarded update."""
        return {"$set": self.sets[i]}

    def fields(self, i):
        """The fields of report ``i`` when it is inserted scored."""
        return self.sets[i]

    def settle(self, written_ids=None):
        """After the write: ``written_ids`` when the caller knows which reports took their result. A deferred
        pass leaves its deltas to the group's fold (``counters.fold_due``)."""
        if self.deferred:
            counters.request_fold(self.aid)
            return
        counters.apply_pending(self.token, None if written_ids is None else set(written_ids), self.items)


def scoring_pass(reports, results, deferred=False):
    """The monitoring side of one results write, or None when there is nothing to write; ``deferred``: its
    counters are applied by the group's next fold, together with the other passes' (``counters``)."""
    if not reports:
        return None
    return ScoringPass(reports[0]["aid"], str(results[0].version), reports, results, deferred)
