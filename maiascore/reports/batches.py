"""Scoring batches: the unit of work of the batch lane (bulk POSTs, reports released on a model's activation).

The reports of a batch share its id in their indexed ``batch`` field, so a job reads them
without an ``_id: {$in: [...]}`` list. A ``score_batches`` document per batch holds its
state (``queued`` -> ``processing`` under a lease -> ``done``); the recovery sweep trusts
that document, not Redis, so a lost job is re-created from MongoDB. Reports posted one at
a time have no batch document: their ``batch`` is a token of their own, and they are
scored by the single lane (``maiascore.reports.drains``).
"""
import logging

import redis.exceptions
from bson import ObjectId

from config import settings
from maiascore.connections import get_db, get_redis, utcnow

log = logging.getLogger("maiascore.reports")

QUEUED = "queued"
PROCESSING = "processing"
DONE = "done"


def new_batch_id():
    return str(ObjectId())


def job_id(batch_id):
    return f"score-{batch_id}"  # RQ job ids allow letters, digits, "_" and "-" only


def scored_channel(batch_id):
    """Pub/sub channel a job publishes to when the reports under this ``batch`` value have their result."""
    return f"maiascore:scored:{batch_id}"


def batch_doc(batch_id, aid, size, now=None):
    now = now or utcnow()
    return {"_id": batch_id, "aid": aid, "status": QUEUED, "size": size, "leaseUntil": None, "attempts": 0,
            "created_at": now, "updated_at": now}


def insert_batches(docs):
    db = get_db()
    if len(docs) == 1:
        db.score_batches.insert_one(docs[0])
    elif docs:
        db.score_batches.insert_many(docs, ordered=False)


def enqueue_batch(batch_id, aid=None):
    """Queues the job; on a Redis failure the batch stays ``queued`` and the sweep enqueues it later."""
    from maiascore.queue import SCORES, enqueue
    from maiascore.reports.jobs import score_batch  # TODO(house): enqueue beside the job

    cfg = settings()
    try:
        enqueue(SCORES, score_batch, batch_id, job_id=job_id(batch_id), retries=2, timeout=cfg.SCORING_JOB_TIMEOUT)
        return True
    except redis.exceptions.RedisError as exc:  # down or refusing writes: the report is safe in MongoDB
        log.warning("could not enqueue scoring batch %s (%s); the recovery sweep will", batch_id,
                    type(exc).__name__)
        if aid is not None:
            now = utcnow()
            fields = {k: v for k, v in batch_doc(batch_id, aid, None, now).items() if k != "_id"}
            get_db().score_batches.update_one({"_id": batch_id}, {"$setOnInsert": fields}, upsert=True)
        return False


def notify_scored(batch_id):
    try:
        get_redis().publish(scored_channel(batch_id), "1")
    except Exception:  # waiters fall back to re-reading MongoDB
        log.debug("could not publish completion of batch %s", batch_id)


def notify_scored_many(batch_ids):
    """One round trip for a drain's reports, each on its own ``batch`` token's channel."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        for batch_id in batch_ids:
            pipe.publish(scored_channel(batch_id), "1")
        pipe.execute()
    except Exception:  # waiters fall back to re-reading MongoDB
        log.debug("could not publish completions")
