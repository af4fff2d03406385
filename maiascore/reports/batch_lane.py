"""The batch lane: reports of a bulk POST, or released on a model's activation, scored by ``score_batch``.

The reports of a batch share its id in their indexed ``batch`` field, so a job reads them
without an ``_id: {$in: [...]}`` list. A ``score_batches`` document per batch holds its
state (``queued`` -> ``processing`` under a lease -> ``done``); the recovery sweep
(``recovery``) trusts that document, not Redis, so a lost job is re-created from MongoDB.
"""
import logging
from datetime import timedelta

import redis.exceptions
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from rq import Retry, get_current_job

from config import settings
from maiascore import metrics
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.events import MODEL_ACTIVATED
from maiascore.queue import SCORES, SINGLES, enqueue, queue
from maiascore.reports import scoring
from maiascore.reports.documents import BATCH, new_token
from maiascore.reports.notification import notify_scored
from maiascore.reports.states import (BATCH_DONE, BATCH_PROCESSING, BATCH_QUEUED, FAILED, QUEUED,
                                      WAITING_FOR_MODEL)
from maiascore.trainings.registry import active_model, active_model_for_scoring

log = logging.getLogger("maiascore.reports")
TURN_RETRIES = 1_000_000  # RQ needs a bound on the turns a batch gives; past it the sweep re-enqueues it


# --- batch documents ----------------------------------------------------------------------------

def job_id(batch_id):
    return f"score-{batch_id}"  # RQ job ids allow letters, digits, "_" and "-" only


def batch_doc(batch_id, aid, size, now=None):
    now = now or utcnow()
    return {"_id": batch_id, "aid": aid, "status": BATCH_QUEUED, "size": size, "leaseUntil": None, "attempts": 0,
            "created_at": now, "updated_at": now}


def insert_batches(docs):
    db = get_db()
    if len(docs) == 1:
        db.score_batches.insert_one(docs[0])
    elif docs:
        db.score_batches.insert_many(docs, ordered=False)


def shrink_batch(batch_id, by):
    """Fewer reports than announced landed in the batch (duplicates); an empty batch goes."""
    db = get_db()
    db.score_batches.update_one({"_id": batch_id}, {"$inc": {"size": -by}, "$set": {"updated_at": utcnow()}})
    db.score_batches.delete_one({"_id": batch_id, "size": {"$lte": 0}, "status": BATCH_QUEUED})


def ensure_batch_doc(batch_id, aid):
    """The batch's document exists (a job that could not be enqueued is found by the sweep through it)."""
    now = utcnow()
    fields = {k: v for k, v in batch_doc(batch_id, aid, None, now).items() if k != "_id"}
    get_db().score_batches.update_one({"_id": batch_id}, {"$setOnInsert": fields}, upsert=True)


# --- enqueueing ---------------------------------------------------------------------------------

def enqueue_batch(batch_id, aid=None):
    """Queues ``score_batch``; on a Redis failure the batch stays ``queued`` and the sweep enqueues it later."""
    try:
        enqueue(SCORES, score_batch, batch_id, job_id=job_id(batch_id), retries=2,
                timeout=settings().SCORING_JOB_TIMEOUT)
        return True
    except redis.exceptions.RedisError as exc:  # down or refusing writes: the report is safe in MongoDB
        log.warning("could not enqueue scoring batch %s (%s); the recovery sweep will", batch_id,
                    type(exc).__name__)
        if aid is not None:
            ensure_batch_doc(batch_id, aid)
        return False


def release_waiting_reports(aid):
    """The group's reports waiting for a model back to ``queued``, as one new batch, enqueued; how many."""
    now = utcnow()
    batch_id = new_token()
    result = get_db().score_reports.update_many(
        {"aid": aid, "status": WAITING_FOR_MODEL},
        {"$set": {"lane": BATCH, "batch": batch_id, "status": QUEUED, "updated_at": now}})
    if not result.modified_count:
        return 0
    insert_batches([batch_doc(batch_id, aid, result.modified_count, now)])
    enqueue_batch(batch_id, aid)
    return result.modified_count


@MODEL_ACTIVATED.connect
def release_on_activation(aid, version):
    """Re-queues the group's reports that were waiting for a model."""
    released = release_waiting_reports(aid)
    log.info("model %s activated for group %s: %s waiting reports re-queued", version, aid, released)
    return released


# --- the job ------------------------------------------------------------------------------------

def score_batch(batch_id):
    """Scores the batch's queued reports with the account group's active model.

    Safe to run twice, even concurrently: a result is written only to a report still queued
    under this batch (``scoring.write_scored``)."""
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

    Upserts: a batch whose document never landed (the request died) is claimed all the same;
    if the document lands later it is a duplicate and dropped.
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
    notify_scored(batch_id)


def _score_claimed(db, batch, token):
    """Scores SCORING_TURN_ROWS reports per read; between reads, a drain waiting on the singles queue
    takes the worker first: the batch goes back to ``queued`` and its job behind the queue."""
    batch_id = batch["_id"]
    cfg = settings()
    chunk = max(1, min(cfg.SCORING_BATCH_SIZE, cfg.SCORING_TURN_ROWS))
    seen, scored, model = set(), 0, None
    while True:
        reports = [r for r in db.score_reports.find({"batch": batch_id, "status": QUEUED},
                                                    scoring.SCORING_READ)
                   .limit(chunk) if r["_id"] not in seen]
        if not reports:
            break
        if model is None:
            aid = reports[0]["aid"]  # a batch never mixes account groups
            model_doc = active_model_for_scoring(aid)
            if model_doc is None:
                return _park_until_model(db, batch_id, aid, token)
            model = scoring.scoring_model(aid, model_doc)
        seen.update(r["_id"] for r in reports)
        done, results, failing, error = scoring.score(model, reports)
        scored += scoring.write_scored(db, done, results)[0]
        if failing:  # queued still: the job's retry reads them again, or its last attempt fails them
            raise error
        if len(reports) < chunk:
            break
        if _drains_waiting() and _release(db, batch_id, token):
            return Retry(max=TURN_RETRIES, interval=0)
        if not _renew_lease(db, batch_id, token):
            break
    _finish(db, batch_id, token, scored=scored)
    return f"scored {scored} reports" + (f" with model version {model.version}" if model else "")


def _drains_waiting():
    """A single-lane drain waits for a worker (only asked inside a job: the job is what goes behind)."""
    if get_current_job() is None:
        return False
    try:
        return queue(SINGLES).count > 0
    except redis.exceptions.RedisError:
        return False


def _release(db, batch_id, token):
    """The batch back to ``queued`` for its job's next turn; False if the lease was lost meanwhile."""
    now = utcnow()
    return db.score_batches.update_one({"_id": batch_id, "claim": token},
                                       {"$set": {"status": BATCH_QUEUED, "leaseUntil": None,
                                                 "updated_at": now}}).matched_count == 1


def _park_until_model(db, batch_id, aid, token):
    """No active model: the reports wait; ``release_waiting_reports`` re-queues them on activation."""
    parked = db.score_reports.update_many({"batch": batch_id, "status": QUEUED},
                                          {"$set": {"status": WAITING_FOR_MODEL, "updated_at": utcnow()}})
    _finish(db, batch_id, token)
    if parked.modified_count and active_model(aid) is not None:
        release_waiting_reports(aid)  # a model was activated while we parked: do not wait for the next one
    return f"{parked.modified_count} reports wait for a model"


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
        message = scoring.short_error(exc)
        failed = db.score_reports.update_many({"batch": batch_id, "status": QUEUED},
                                              {"$set": {"status": FAILED, "error": message, "updated_at": now}})
        metrics.reports_failed(failed.modified_count)
        _finish(db, batch_id, token, error=message)
    except Exception:  # MongoDB down too: the lease expires and the sweep re-queues the batch
        log.warning("could not record the failure of batch %s", batch_id)
