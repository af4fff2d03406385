"""Scoring batches: the unit of work of the batch lane (bulk POSTs, reports released on a model's activation).

The reports of a batch share its id in their indexed ``batch`` field, so a job reads them
without an ``_id: {$in: [...]}`` list. A ``score_batches`` document per batch holds its
state (``queued`` -> ``processing`` under a lease -> ``done``); the recovery sweep trusts
that document, not Redis, so a lost job is re-created from MongoDB. Reports posted one at
a time have no batch document: their ``batch`` is a token of their own, and they are
scored by the single lane (``maiascore.reports.drains``).

This module holds the MongoDB and pub/sub mechanics only; enqueueing the job is
``maiascore.reports.jobs.enqueue_batch``.
"""
import itertools
import logging

import bson
from bson import ObjectId

from maiascore.clock import utcnow
from maiascore.connections import get_db, get_redis, redis_key
from maiascore.reports import drains
from maiascore.reports.states import BATCH_QUEUED, QUEUED, WAITING_FOR_MODEL

log = logging.getLogger("maiascore.reports")


def new_batch_id():
    return str(ObjectId())


def job_id(batch_id):
    return f"score-{batch_id}"  # RQ job ids allow letters, digits, "_" and "-" only


def scored_channel(batch_id):
    """Pub/sub channel a job publishes to when the reports under this ``batch`` value have their result."""
    return redis_key("scored", batch_id)


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


def requeue_waiting(aid):
    """The group's reports waiting for a model back to ``queued``, as one new batch: ``(batch id, count)``;
    the batch id is None when no report was waiting."""
    now = utcnow()
    batch_id = new_batch_id()
    result = get_db().score_reports.update_many(
        {"aid": aid, "status": WAITING_FOR_MODEL},
        {"$set": {"lane": drains.BATCH, "batch": batch_id, "status": QUEUED, "updated_at": now}})
    if not result.modified_count:
        return None, 0
    insert_batches([batch_doc(batch_id, aid, result.modified_count, now)])
    return batch_id, result.modified_count


NUDGE = b"1"  # "read the report again"; any other message is a BSON document of the result's fields


def decode_result(data):
    """The result fields a message carries, or None for a nudge."""
    if not data or data == NUDGE:
        return None
    try:
        return drains.decode_bson(data)
    except Exception:  # not ours: read the report
        return None


def notify_scored(batch_id):
    try:
        get_redis().publish(scored_channel(batch_id), NUDGE)
    except Exception:  # waiters fall back to re-reading MongoDB
        log.debug("could not publish completion of batch %s", batch_id)


def notify_scored_many(batch_ids, results=None):
    """One round trip for a drain's reports, each on its own ``batch`` token's channel: with
    ``results`` (the fields written, in the same order) a waiter needs no read."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        for batch_id, fields in zip(batch_ids, results or itertools.repeat(None)):
            pipe.publish(scored_channel(batch_id), NUDGE if fields is None else bson.encode(fields))
        pipe.execute()
    except Exception:  # waiters fall back to re-reading MongoDB
        log.debug("could not publish completions")
