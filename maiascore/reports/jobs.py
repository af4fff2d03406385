"""Scoring jobs (queue ``scores``) and the sweeps that recover work a crash or a Redis outage stranded.

Two jobs, one per lane (``maiascore.reports.drains``): ``score_batch(batch_id)`` scores
one batch of a bulk POST (or of reports released on a model's activation);
``drain_group(aid)`` scores every report of a group posted one at a time, many per
read, ``predict`` and ``bulk_write``. Each is enqueued here, beside it
(``enqueue_batch``, ``request_drain``); ``batches`` and ``drains`` hold the MongoDB and
Redis mechanics they share with the service.

Both are safe to run twice, even concurrently: every result is written with a filter on
``{_id, batch, status: "queued"}``, so a report is scored by at most one run however many
runs (retries, zombies, sweeps) there are, and a report re-queued meanwhile (new
``features``, rescore: a new ``batch`` token) is never given the result of its old
features.
"""
import logging
import time
from datetime import timedelta

import redis.exceptions
from bson import ObjectId
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError
from rq import get_current_job

from config import settings
from maiascore import metrics
from maiascore.clock import stored_now, utcnow
from maiascore.connections import get_db, insert_new
from maiascore.events import MODEL_ACTIVATED
from maiascore.modeling import ScoreScale, ScoringModel
from maiascore.queue import SCORES, enqueue, job_is_live
from maiascore.reports import batches, drains
from maiascore.reports.states import (BATCH_DONE, BATCH_PROCESSING, BATCH_QUEUED, FAILED, PROCESSED, QUEUED,
                                      WAITING_FOR_MODEL)
from maiascore.trainings.registry import active_model, active_model_for_scoring, load_model_bytes

log = logging.getLogger("maiascore.reports.jobs")

ORPHAN_SCAN_LIMIT = 1000
ERROR_MESSAGE_LENGTH = 300
# A drain takes the hand-offs of waiting POSTs before each read and between writes of this many results, so
# a hand-off waits behind a backlog for a fraction of WAIT_HANDOFF_SECONDS (~0.2 s on the embedded database).
DRAIN_WRITE_SLICE = 200
DRAIN_TURN_SECONDS = 30  # then a drain re-enqueues itself, so bulk batches and other jobs get the worker

_models = {}  # aid -> ScoringModel of the version last used; the worker does not fork, so it lives on


# --- enqueueing ---------------------------------------------------------------------------------

def enqueue_batch(batch_id, aid=None):
    """Queues ``score_batch``; on a Redis failure the batch stays ``queued`` and the sweep enqueues it later."""
    try:
        enqueue(SCORES, score_batch, batch_id, job_id=batches.job_id(batch_id), retries=2,
                timeout=settings().SCORING_JOB_TIMEOUT)
        return True
    except redis.exceptions.RedisError as exc:  # down or refusing writes: the report is safe in MongoDB
        log.warning("could not enqueue scoring batch %s (%s); the recovery sweep will", batch_id,
                    type(exc).__name__)
        if aid is not None:
            batches.ensure_batch_doc(batch_id, aid)
        return False


def request_drain(aid, force=False, handoff=None):
    """Enqueues ``drain_group`` unless one runs or is pending (``force``: unless one runs). False when
    Redis refused: the reports stay queued in MongoDB and the sweep requests the drain later.
    ``handoff``: a report a waiting POST gives the drain to store (``drains.claim_request``)."""
    try:
        job_id = drains.claim_request(aid, force, handoff)
        if job_id is not None:
            enqueue(SCORES, drain_group, aid, job_id=job_id, retries=2, timeout=settings().SCORING_JOB_TIMEOUT)
        return True
    except redis.exceptions.RedisError as exc:
        log.warning("could not request a scoring drain for group %s (%s); the recovery sweep will", aid,
                    type(exc).__name__)
        return False


def release_waiting_reports(aid):
    """Called when a model becomes active: the group's waiting reports go back to the queue, as one batch."""
    batch_id, released = batches.requeue_waiting(aid)
    if batch_id is not None:
        enqueue_batch(batch_id, aid)
    return released


@MODEL_ACTIVATED.connect
def release_on_activation(aid, version):
    """Re-queues the group's reports that were waiting for a model."""
    released = release_waiting_reports(aid)
    log.info("model %s activated for group %s: %s waiting reports re-queued", version, aid, released)
    return released


# --- the batch lane ------------------------------------------------------------------------------

def score_batch(batch_id):
    """Scores the batch's queued reports with the account group's active model."""
    db = get_db()
    token = str(ObjectId())
    batch = _claim(db, batch_id, token)
    if batch is None:
        return "not claimable: done, or held by a live run"
    try:
        return _score_claimed(db, batch, token)
    except Exception as exc:
        _give_up_or_release(db, batch_id, token, exc)
        raise


def _claim(db, batch_id, token):
    """The batch under a lease, or None when it is done or a live run holds it.

    Upserts: a single report's batch document is written unacknowledged and may not have
    landed yet; if it lands later it is a duplicate and dropped.
    """
    now = utcnow()
    lease = timedelta(seconds=settings().SCORING_LEASE_SECONDS)
    try:
        return db.score_batches.find_one_and_update(
            {"_id": batch_id, "$or": [{"status": BATCH_QUEUED},
                                      {"status": BATCH_PROCESSING, "leaseUntil": {"$lt": now}}]},
            {"$set": {"status": BATCH_PROCESSING, "claim": token, "leaseUntil": now + lease, "updated_at": now},
             "$setOnInsert": {"created_at": now}, "$inc": {"attempts": 1}},
            upsert=True, return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:  # exists, but done or under a live lease
        return None


def _renew_lease(db, batch_id, token):
    now = utcnow()
    lease = timedelta(seconds=settings().SCORING_LEASE_SECONDS)
    result = db.score_batches.update_one({"_id": batch_id, "claim": token},
                                         {"$set": {"leaseUntil": now + lease, "updated_at": now}})
    return result.matched_count == 1


def _finish(db, batch_id, token, **extra):
    now = utcnow()
    db.score_batches.update_one({"_id": batch_id, "claim": token},
                                {"$set": {"status": BATCH_DONE, "leaseUntil": None, "doneAt": now,
                                          "updated_at": now, **extra}})
    batches.notify_scored(batch_id)


def _score_claimed(db, batch, token):
    batch_id = batch["_id"]
    chunk = max(1, settings().SCORING_BATCH_SIZE)
    seen, scored, model = set(), 0, None
    while True:
        reports = [r for r in db.score_reports.find({"batch": batch_id, "status": QUEUED},
                                                    {"features": 1, "aid": 1, "batch": 1, "created_at": 1})
                   .limit(chunk) if r["_id"] not in seen]
        if not reports:
            break
        if model is None:
            aid = reports[0]["aid"]  # a batch never mixes account groups
            model_doc = active_model_for_scoring(aid)
            if model_doc is None:
                return _park_until_model(db, batch_id, aid, token)
            model = _scoring_model(aid, model_doc)
        seen.update(r["_id"] for r in reports)
        done, results, failing, error = _score(model, reports)
        scored += _write_results(db, done, results)[0]
        if failing:  # queued still: the job's retry reads them again, or its last attempt fails them
            raise error
        if len(reports) < chunk or not _renew_lease(db, batch_id, token):
            break
    _finish(db, batch_id, token, scored=scored)
    return f"scored {scored} reports" + (f" with model version {model.version}" if model else "")


def _result_fields(results):
    """The ``$set`` of each result: what a report holds once scored."""
    now = stored_now()
    return [{"status": PROCESSED, "processed": True, "score": res.score, "scoreProbability": res.probability,
             "scoreConfidence": res.confidence, "scoreVersion": res.version, "explanation": res.explanation,
             "warnings": res.warnings, "error": None, "processed_at": now, "updated_at": now}
            for res in results]


def _write_results(db, reports, results):
    """One ``bulk_write``; only a report still queued under the token it was read with takes its result.
    ``(written, fields)``: how many took theirs, and each report's ``$set`` fields."""
    if not reports:
        return 0, []
    fields = _result_fields(results)
    writes = [UpdateOne({"_id": r["_id"], "batch": r["batch"], "status": QUEUED},
                        {"$set": f, "$inc": {"scoringRuns": 1}})
              for r, f in zip(reports, fields)]
    written = db.score_reports.bulk_write(writes, ordered=False).modified_count
    metrics.reports_scored(reports, fields, stored_now())
    return written, fields


def _set_status(db, reports, status, **fields):
    """Moves reports still queued under the token they were read with (parking, failing)."""
    if not reports:
        return 0
    change = {"$set": {"status": status, "updated_at": utcnow(), **fields}}
    writes = [UpdateOne({"_id": r["_id"], "batch": r["batch"], "status": QUEUED}, change) for r in reports]
    moved = db.score_reports.bulk_write(writes, ordered=False).modified_count
    if status == FAILED:
        metrics.reports_failed(moved)
    return moved


def _score(model, reports):
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


def _park_until_model(db, batch_id, aid, token):
    """No active model: the reports wait; ``release_waiting_reports`` re-queues them on activation."""
    parked = db.score_reports.update_many({"batch": batch_id, "status": QUEUED},
                                          {"$set": {"status": WAITING_FOR_MODEL, "updated_at": utcnow()}})
    _finish(db, batch_id, token)
    if parked.modified_count and active_model(aid) is not None:
        release_waiting_reports(aid)  # a model was activated while we parked: do not wait for the next one
    return f"{parked.modified_count} reports wait for a model"


def _scoring_model(aid, model_doc):
    """The loaded model for the group's active version; loaded from GridFS only when the version changes."""
    version = str(model_doc["version"])
    cached = _models.get(aid)
    if cached is not None and cached.version == version:
        return cached
    cfg = settings()
    scale = ScoreScale(base_points=cfg.SCORE_BASE_POINTS, base_odds=cfg.SCORE_BASE_ODDS, pdo=cfg.SCORE_PDO,
                       min_score=cfg.SCORE_MIN, max_score=cfg.SCORE_MAX)
    model = ScoringModel.from_bytes(load_model_bytes(model_doc), model_doc["schema"], version, scale)
    _models[aid] = model
    return model


def _give_up_or_release(db, batch_id, token, exc):
    """Before RQ's last retry the batch goes back to ``queued`` for the retry to claim; after it,
    its queued reports become ``failed`` with a short reason."""
    job = get_current_job()
    now = utcnow()
    try:
        if job is not None and job.retries_left:
            db.score_batches.update_one({"_id": batch_id, "claim": token},
                                        {"$set": {"status": BATCH_QUEUED, "leaseUntil": None, "updated_at": now}})
            return
        message = _short_error(exc)
        failed = db.score_reports.update_many({"batch": batch_id, "status": QUEUED},
                                              {"$set": {"status": FAILED, "error": message, "updated_at": now}})
        metrics.reports_failed(failed.modified_count)
        _finish(db, batch_id, token, error=message)
    except Exception:  # MongoDB down too: the lease expires and the sweep re-queues the batch
        log.warning("could not record the failure of batch %s", batch_id)


def _short_error(exc):
    detail = str(exc).splitlines()[0] if str(exc) else ""
    text = f"Scoring failed: {type(exc).__name__}" + (f": {detail}" if detail else "")
    return text[:ERROR_MESSAGE_LENGTH]


# --- the single-report lane -----------------------------------------------------------------------

def drain_group(aid):
    """Scores the group's queued single reports, SCORING_BATCH_SIZE per read, until none is left.

    Holds the group's lease (``maiascore.reports.drains``), so one drain per group scores
    at a time; a drain that finds the lease taken leaves the work to its holder.
    """
    job = get_current_job()
    drain = _Drain(get_db(), aid, drains.Lease(aid, marker=job.id if job is not None else "drain"))
    if drain.lease.acquire_or_mark() != drains.ACQUIRED:
        return drain.summary("another drain holds the lease: it reads these reports")
    try:
        return drain.run()
    except Exception as exc:
        drain.lease.release()
        drain.give_up_or_retry(job, exc)
        raise


class _Drain:
    """One run of ``drain_group``, holding its group's lease."""

    def __init__(self, db, aid, lease):
        self.db, self.aid, self.lease = db, aid, lease
        self.in_hand = []  # reports read and not settled: what a failure leaves queued, or fails
        self.counts = {"scored": 0, "waiting_for_model": 0, "reads": 0, "handed_off": 0}

    def summary(self, end):
        return {**self.counts, "end": end}

    def run(self):
        cfg = settings()
        chunk = max(1, cfg.SCORING_BATCH_SIZE)
        turn_ends = time.monotonic() + min(DRAIN_TURN_SECONDS, cfg.SCORING_JOB_TIMEOUT / 4)
        while True:
            handed = self._take_handoffs(chunk)
            reports = list(self.db.score_reports.find({"aid": self.aid, "status": QUEUED, "lane": drains.SINGLE},
                                                      {"features": 1, "batch": 1, "created_at": 1})
                           .sort("_id", 1).limit(chunk))
            self.counts["reads"] += 1
            if reports:
                self.in_hand = reports
                self._settle(reports)
                self.in_hand = []
            if len(reports) == chunk or handed == chunk:  # more to read: no need to look at the pending flag
                if not (self.lease.renew() or self.lease.acquire_or_mark() == drains.ACQUIRED):
                    return self.summary("lease lost to another drain")
            else:
                state = self.lease.continue_or_release()
                if state == drains.RELEASED:
                    return self.summary("none left")
                if state == drains.LOST and self.lease.acquire_or_mark() != drains.ACQUIRED:
                    return self.summary("lease lost to another drain")  # it expired, and was taken
            if time.monotonic() > turn_ends:
                self.lease.release()
                request_drain(self.aid, force=True)
                return self.summary("turn over: re-enqueued")

    def _settle(self, reports):
        """Scores one read's reports with the group's active model (looked up per read: an activation
        is used from the next read on), or parks them until there is one."""
        model_doc = active_model_for_scoring(self.aid)
        if model_doc is None:
            self.counts["waiting_for_model"] += _set_status(self.db, reports, WAITING_FOR_MODEL)
            batches.notify_scored_many(r["batch"] for r in reports)
            if active_model(self.aid) is not None:
                release_waiting_reports(self.aid)  # activated while we parked: do not wait for the next one
            return
        scored, results, failing, error = _score(_scoring_model(self.aid, model_doc), reports)
        for start in range(0, len(scored), DRAIN_WRITE_SLICE):
            if start:
                self._take_handoffs(DRAIN_WRITE_SLICE)  # waiting POSTs do not wait behind a long backlog
            part = slice(start, start + DRAIN_WRITE_SLICE)
            written, fields = _write_results(self.db, scored[part], results[part])
            self.counts["scored"] += written
            # every result landed: its waiter needs no read; else (one re-queued meanwhile) a nudge to read
            batches.notify_scored_many([r["batch"] for r in scored[part]],
                                       fields if written == len(fields) else None)
        if failing:  # stay queued, in hand, for the job's retry (or to be failed after the last one)
            self.in_hand = failing
            raise error

    def _take_handoffs(self, count):
        """Stores up to ``count`` reports handed off by waiting POSTs; how many there were."""
        handed = drains.take_handoffs(self.aid, count)
        if handed:
            self._store_handed(handed)
        return len(handed)

    def _store_handed(self, docs):
        """Stores the reports waiting POSTs handed off, each once and scored: one ``insert_many``. One that
        cannot be scored now (no active model, a failing report) is stored queued, for the read that
        follows; one stored already (by its request, after WAIT_HANDOFF_SECONDS) is left as it is."""
        self.counts["handed_off"] += len(docs)
        model_doc = active_model_for_scoring(self.aid)
        if model_doc is None:
            scored, results, failing = [], [], docs
        else:
            scored, results, failing, _ = _score(_scoring_model(self.aid, model_doc), docs)
        fields = _result_fields(results)
        stored = [{**doc, **f, "scoringRuns": (doc.get("scoringRuns") or 0) + 1} for doc, f in zip(scored, fields)]
        duplicates = insert_new(self.db.score_reports, stored + failing)
        metrics.reports_scored([doc for i, doc in enumerate(scored) if i not in duplicates],
                               [f for i, f in enumerate(fields) if i not in duplicates], stored_now())
        self.counts["scored"] += len(scored) - len([i for i in duplicates if i < len(scored)])
        # its result to the waiter of each report stored with it; a nudge (read it) where the request stored it
        messages = [(doc["batch"], None if i in duplicates else f) for i, (doc, f) in enumerate(zip(scored, fields))]
        messages += [(doc["batch"], None) for i, doc in enumerate(failing, len(scored)) if i in duplicates]
        if messages:
            batches.notify_scored_many(*zip(*messages))

    def give_up_or_retry(self, job, exc):
        """Before RQ's last retry the reports stay queued for it (the pending flag names this job, so the
        sweep waits for it); after it, the reports in hand become ``failed`` and a fresh drain takes the rest
        (and the reports POSTed meanwhile, which counted on this drain)."""
        try:
            if job is not None and job.retries_left:
                drains.mark_pending(self.aid, job.id)
                return
            failed = _set_status(self.db, self.in_hand, FAILED, error=_short_error(exc))
            batches.notify_scored_many(r["batch"] for r in self.in_hand)
            if failed or drains.is_pending(self.aid):
                request_drain(self.aid, force=True)
        except Exception:  # MongoDB or Redis down too: the reports stay queued for the sweep
            log.warning("could not record the failure of the scoring drain of group %s", self.aid)


def recover_single_reports():
    """Requests a drain for every group whose single reports wait longer than SWEEP_GRACE_SECONDS with no
    live drain: Redis was down at POST time or lost its keys, or the drain's worker died (its lease expired)."""
    db = get_db()
    cutoff = utcnow() - timedelta(seconds=settings().SWEEP_GRACE_SECONDS)
    stranded = [aid for aid in db.score_reports.distinct("aid", {"status": QUEUED, "lane": drains.SINGLE,
                                                                 "updated_at": {"$lt": cutoff}})
                if not drains.drain_is_live(aid)]
    for aid in stranded:
        log.info("requesting a scoring drain for the stranded single reports of group %s", aid)
        request_drain(aid, force=True)
    return len(stranded)


def recover_score_batches():
    """Re-enqueues batches no live job will finish: never enqueued (Redis was down), lost with
    Redis, or held by a worker that died (lease expired). Indexed queries only."""
    db = get_db()
    now = utcnow()
    cutoff = now - timedelta(seconds=settings().SWEEP_GRACE_SECONDS)
    stranded = [b["_id"] for b in db.score_batches.find({"status": BATCH_QUEUED, "updated_at": {"$lt": cutoff}},
                                                         {"_id": 1})
                if not job_is_live(batches.job_id(b["_id"]))]
    # An expired lease is enough: a SIGKILLed worker's job stays "started" in RQ until its timeout.
    for batch in db.score_batches.find({"status": BATCH_PROCESSING, "leaseUntil": {"$lt": now}}, {"_id": 1}):
        released = db.score_batches.update_one(
            {"_id": batch["_id"], "status": BATCH_PROCESSING, "leaseUntil": {"$lt": now}},
            {"$set": {"status": BATCH_QUEUED, "leaseUntil": None, "updated_at": now}})
        if released.modified_count:
            stranded.append(batch["_id"])
    stranded.extend(_adopt_orphan_reports(db, cutoff, now))
    for batch_id in stranded:
        log.info("re-enqueueing stranded scoring batch %s", batch_id)
        enqueue_batch(batch_id)
    _release_missed_waiters(db, cutoff)
    return len(stranded)


def _release_missed_waiters(db, cutoff):
    """Reports still waiting in a group that has an active model: the release on activation failed."""
    for aid in db.models.distinct("aid", {"active": True}):
        if db.score_reports.find_one({"aid": aid, "status": WAITING_FOR_MODEL, "updated_at": {"$lt": cutoff}},
                                     {"_id": 1}):
            log.info("releasing reports of group %s still waiting despite an active model", aid)
            release_waiting_reports(aid)


def _adopt_orphan_reports(db, cutoff, now):
    """Queued reports of the batch lane whose batch document is missing (a crash between the reports'
    insert and the batch's) or already done: their batch is (re)opened so the job can claim it.
    Reports without a ``lane`` were queued before lanes existed, each with a batch document."""
    aid_of = {}
    for report in (db.score_reports.find({"status": QUEUED, "updated_at": {"$lt": cutoff},
                                          "lane": {"$ne": drains.SINGLE}}, {"batch": 1, "aid": 1})
                   .sort("updated_at", 1).limit(ORPHAN_SCAN_LIMIT)):
        aid_of.setdefault(report["batch"], report["aid"])
    if not aid_of:
        return []
    status_of = {b["_id"]: b["status"] for b in db.score_batches.find({"_id": {"$in": list(aid_of)}}, {"status": 1})}
    adopted = []
    for batch_id, aid in aid_of.items():
        status = status_of.get(batch_id)
        if status is None:
            try:
                db.score_batches.insert_one(batches.batch_doc(batch_id, aid, None, now))
            except DuplicateKeyError:
                continue
            adopted.append(batch_id)
        elif status == BATCH_DONE:
            reopened = db.score_batches.update_one({"_id": batch_id, "status": BATCH_DONE},
                                                   {"$set": {"status": BATCH_QUEUED, "updated_at": now},
                                                    "$unset": {"doneAt": ""}})
            if reopened.modified_count:
                adopted.append(batch_id)
    return adopted
