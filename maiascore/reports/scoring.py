"""The scoring step every writer of scored reports shares: the model, ``predict``, and the scored writes.

The three writes of scored reports are here, beside each other: ``write_scored`` (reports
queued in MongoDB, both lanes), ``insert_scored`` (reports a waiting POST handed to the
single lane, stored once with their result) and ``upsert_scored`` (a scoring run's rows,
keyed by uuid). Each takes its fields from ``documents.scored_fields``.
"""
import dataclasses
from collections import OrderedDict

from pymongo import UpdateOne

from config import settings
from maiascore import metrics
from maiascore.clock import stored_now, utcnow
from maiascore.connections import get_db, insert_new
from maiascore.modeling import ScoreScale, ScoringModel
from maiascore.monitoring import shadow
from maiascore.monitoring.counters import REPORT_FIELDS
from maiascore.reports.documents import scored_fields, scored_report, with_result
from maiascore.reports.states import FAILED, QUEUED
from maiascore.trainings.registry import open_model_binary

ERROR_MESSAGE_LENGTH = 300
UPSERT_ATTEMPTS = 3



def score_scale():
    """The points scale of every score, from the settings."""
    cfg = settings()
    return ScoreScale(base_points=cfg.SCORE_BASE_POINTS, base_odds=cfg.SCORE_BASE_ODDS, pdo=cfg.SCORE_PDO,
                      min_score=cfg.SCORE_MIN, max_score=cfg.SCORE_MAX)


def score_scale_dict():
    """``score_scale`` as plain data (for a Dask worker)."""
    return dataclasses.asdict(score_scale())


class TooLarge(Exception):
    """A model past the size a caller can hold (``scoring_model(..., max_bytes)``)."""


class _ModelCache:
    """Each group's model of the version last used, least recently used out past MODEL_CACHE_BYTES (the
    size of their binaries): web processes and workers live on, and must not hold every group's model."""

    def __init__(self):
        self.entries = OrderedDict()  # aid -> (models doc id, ScoringModel, size of its binary)

    def get(self, aid, doc_id):
        entry = self.entries.get(aid)
        if entry is None or entry[0] != doc_id:
            return None
        self.entries.move_to_end(aid)
        return entry

    def clear(self):
        self.entries.clear()

    def put(self, aid, doc_id, model, size):
        self.entries[aid] = (doc_id, model, size)
        self.entries.move_to_end(aid)
        limit = settings().MODEL_CACHE_BYTES
        while len(self.entries) > 1 and sum(entry[2] for entry in self.entries.values()) > limit:
            self.entries.popitem(last=False)


_models = _ModelCache()


def scoring_model(aid, model_doc, max_bytes=None):
    """The loaded model for the group's active version; loaded from GridFS only when the version changes.
    ``max_bytes``: a binary larger than that is not loaded (``TooLarge``)."""
    doc_id = model_doc.get("_id") or model_doc["version"]
    cached = _models.get(aid, doc_id)
    if cached is not None:
        if max_bytes is not None and cached[2] > max_bytes:
            raise TooLarge(model_doc["version"])
        return cached[1]
    binary = open_model_binary(model_doc)
    if max_bytes is not None and binary.length > max_bytes:
        raise TooLarge(model_doc["version"])
    data = binary.read()
    model = ScoringModel.from_bytes(data, model_doc["schema"], str(model_doc["version"]), score_scale())
    _models.put(aid, doc_id, model, len(data))
    return model


def score(model, reports):
    """``(scored reports, their results, reports that could not be scored, the first error)``.

    One ``predict`` for all; if it raises, report by report, so that one report that
    cannot be scored does not fail the others read with it.
    """
    try:
        return reports, model.score([r.get("features") or {} for r in reports]), [], None
    except Exception as exc:
        if len(reports) == 1:
            return [], [], reports, exc
    scored, results, failing, first_error = [], [], [], None
    for report in reports:
        try:
            results.append(model.score([report.get("features") or {}])[0])
            scored.append(report)
        except Exception as exc:
            failing.append(report)
            first_error = first_error or exc
    return scored, results, failing, first_error


def _fields(results):
    now = stored_now()
    return [scored_fields(res.to_dict(), now) for res in results]

# What a lane reads of a queued report to score it: its features, its token, and what monitoring needs.
SCORING_READ = {"features": 1, "batch": 1, "created_at": 1, **REPORT_FIELDS}


def write_scored(db, reports, results):
    """Scores reports queued in MongoDB: one ``bulk_write``; only a report still queued under the token it
    was read with takes its result. ``(written, fields)``: how many took theirs, and each one's fields."""
    if not reports:
        return 0, []
    fields = _fields(results)
    monitored = shadow.scoring_pass(reports, results)  # the counters' deltas and the challenger's score
    writes = [UpdateOne({"_id": r["_id"], "batch": r["batch"], "status": QUEUED},
                        shadow.merge({"$set": f, "$inc": {"scoringRuns": 1}}, monitored.update(i)))
              for i, (r, f) in enumerate(zip(reports, fields))]
    written = db.score_reports.bulk_write(writes, ordered=False).modified_count
    monitored.settle([r["_id"] for r in reports] if written == len(writes) else None)
    metrics.reports_scored(reports, fields, stored_now())
    return written, fields


def insert_scored(db, docs, results, unscored=()):
    """Stores reports not stored yet, ``docs`` scored with ``results`` and ``unscored`` as they are, in one
    ``insert_many``; one stored already (same ``_id``) is left as it is. ``(fields, duplicates)``: each
    scored report's fields, and the positions (in ``docs + unscored``) that were stored already."""
    fields = _fields(results)
    # the counters' deltas and the challenger's score; applied by the group's fold, for all such reports at once
    monitored = shadow.scoring_pass(docs, results, deferred=True)
    stored = [with_result(doc, {**f, **monitored.fields(i)}) if monitored else with_result(doc, f)
              for i, (doc, f) in enumerate(zip(docs, fields))]
    duplicates = insert_new(db.score_reports, stored + list(unscored))
    if monitored is not None:
        monitored.settle([doc["_id"] for i, doc in enumerate(docs) if i not in duplicates])
    metrics.reports_scored([doc for i, doc in enumerate(docs) if i not in duplicates],
                           [f for i, f in enumerate(fields) if i not in duplicates], stored_now())
    return fields, duplicates


def upsert_scored(aid, user_id, keys, records, results):
    """One scored report per key (its uuid), with its features and its result (as ``to_dict`` gives it): a
    key seen before (a resumed run, an earlier one, a report posted by hand) is updated in place, never
    duplicated. New keys go in one ``insert_many``, known ones in one ``bulk_write`` by ``_id``."""
    if not keys:
        return 0
    db = get_db()
    now = utcnow()
    scored = {key: {**scored_fields(result, now), "features": features, "updated_by": user_id}
              for key, features, result in zip(keys, records, results)}
    for _ in range(UPSERT_ATTEMPTS):
        known = {doc["uuid"]: doc["_id"] for doc in db.score_reports.find(
            {"aid": aid, "uuid": {"$in": list(scored)}}, {"uuid": 1})}
        if known:
            db.score_reports.bulk_write([UpdateOne({"_id": known[key]},
                                                   {"$set": scored[key], "$inc": {"scoringRuns": 1}})
                                         for key in known], ordered=False)
        fresh = [scored_report(aid, key, user_id, fields, now) for key, fields in scored.items() if key not in known]
        if not fresh:
            return len(keys)
        raced = {fresh[i]["uuid"] for i in insert_new(db.score_reports, fresh)}
        if not raced:
            return len(keys)
        # another writer created some of these keys meanwhile: update those
        scored = {key: fields for key, fields in scored.items() if key in raced}
    raise RuntimeError("score reports kept colliding with concurrent writers")


def set_status(db, reports, status, **fields):
    """Moves reports still queued under the token they were read with (parking, failing)."""
    if not reports:
        return 0
    change = {"$set": {"status": status, "updated_at": utcnow(), **fields}}
    writes = [UpdateOne({"_id": r["_id"], "batch": r["batch"], "status": QUEUED}, change) for r in reports]
    moved = db.score_reports.bulk_write(writes, ordered=False).modified_count
    if status == FAILED:
        metrics.reports_failed(moved)
    return moved


def short_error(exc):
    detail = str(exc).splitlines()[0] if str(exc) else ""
    text = f"Scoring failed: {type(exc).__name__}" + (f": {detail}" if detail else "")
    return text[:ERROR_MESSAGE_LENGTH]
