"""Leases on long jobs (trainings, scoring runs): one claim, one heartbeat, one rescue for both.

A claim moves a document to ``running`` and stamps it with a fresh ``runId``. Every later
write is conditional on that ``runId`` and on ``running``: a canceled run, or one superseded
after its worker was presumed dead, finds its writes refused and stops. A heartbeat thread
keeps ``heartbeatAt`` fresh while the run lives, which is how the sweep tells a long run from
a dead worker; the sweep re-queues (or fails) the dead ones and re-submits the lost jobs.

Below the domains: it knows a collection and its states, not what a training or a run does.
"""
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

import redis.exceptions
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from rq.exceptions import NoSuchJobError
from rq.job import Job

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db, get_redis
from maiascore.queue import job_is_live


class RunAborted(Exception):
    """The document was canceled, or another attempt took it over: stop without writing."""


@dataclass(frozen=True)
class Kind:
    """One collection of leased documents: where they are, their states, how their jobs and logs name them."""

    collection: str
    noun: str  # "training", "scoring run": what the log lines call one
    job_prefix: str  # a document's job id is ``<job_prefix>-<id>``
    log: logging.Logger
    queue: str  # the queue its jobs go to, a name as in ``maiascore.queue.QUEUES``
    queued: str = "queued"
    running: str = "running"
    failed: str = "failed"
    canceled: str = "canceled"

    @property
    def docs(self):
        return get_db()[self.collection]

    def job_id(self, doc_id):
        return f"{self.job_prefix}-{doc_id}"


def claim(kind, doc_id, now, due, fields=None):
    """The document, now ``running`` under a fresh ``runId``; None if ``doc_id`` is no id or the
    document does not match ``due`` (finished, canceled, running elsewhere, early)."""
    try:
        oid = ObjectId(doc_id)
    except (InvalidId, TypeError):
        return None
    return kind.docs.find_one_and_update(
        {"_id": oid, **due},
        {"$set": {"status": kind.running, "runId": uuid.uuid4().hex, "heartbeatAt": now, "updated_at": now,
                  **(fields or {})},
         "$inc": {"attempts": 1}},
        return_document=ReturnDocument.AFTER)


class Lease:
    """One attempt at a claimed document, from its claim to its last write; a context manager that
    heartbeats while it is entered. ``lost`` is set once a write finds it canceled or taken over."""

    kind: Kind

    def __init__(self, doc):
        self.doc, self.id, self.run_id = doc, doc["_id"], doc["runId"]
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._heartbeat = None

    @property
    def owned(self):
        """The filter of every write: matches only while this attempt holds the document."""
        return {"_id": self.id, "runId": self.run_id, "status": self.kind.running}

    def write(self, fields, extra=None):
        """True if the write landed, i.e. the document is still this attempt's."""
        return self.kind.docs.update_one({**self.owned, **(extra or {})}, {"$set": fields}).matched_count == 1

    def fail(self, reason):
        now = utcnow()
        self.write({"status": self.kind.failed, "error": reason, "finishedAt": now, "updated_at": now})

    def __enter__(self):
        self._heartbeat = threading.Thread(target=self._beat, name=f"heartbeat-{self.id}", daemon=True)
        self._heartbeat.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._heartbeat.join(timeout=5)
        return False

    def _beat(self):
        interval = settings().TRAINING_HEARTBEAT_SECONDS
        while not self._stop.wait(interval):
            try:
                if not self.write({"heartbeatAt": utcnow()}):
                    self.lost.set()
                    return
            except Exception:  # a missed beat is retried on the next one
                self.kind.log.warning("heartbeat of %s %s failed", self.kind.noun, self.id, exc_info=True)


def cancel(kind, doc, user_id):
    """``doc``, canceled if its status is still the one read (None if it moved): a running attempt's
    next write then finds its lease lost and stops."""
    now = utcnow()
    return kind.docs.find_one_and_update(
        {"_id": doc["_id"], "status": doc["status"]},
        {"$set": {"status": kind.canceled, "finishedAt": now, "updated_at": now, "updated_by": user_id}},
        return_document=ReturnDocument.AFTER)


def drop_job(kind, doc_id):
    """Removes the document's job; if Redis is away, the job finds the document moved on and does nothing."""
    try:
        Job.fetch(kind.job_id(doc_id), connection=get_redis()).delete()
    except NoSuchJobError:
        pass
    except redis.exceptions.RedisError as exc:
        kind.log.warning("could not remove the job of %s %s: %s", kind.noun, doc_id, type(exc).__name__)


def sweep(kind, waiting, fields, submit, rescue, running_fields=None):
    """Re-submits the ``waiting`` documents whose job is gone (a Redis restart loses them) or sits on a
    queue none of this deployment's workers listen to (it is moved), and hands ``rescue(doc, now)``
    the running ones whose worker stopped heart-beating (or whose job is gone).

    Returns ``(resubmitted, rescued)``.
    """
    cfg = settings()
    now = utcnow()
    settled = now - timedelta(seconds=cfg.SWEEP_GRACE_SECONDS)
    stale = now - timedelta(seconds=3 * cfg.TRAINING_HEARTBEAT_SECONDS)
    resubmitted = rescued = 0
    for doc in kind.docs.find({**waiting, "updated_at": {"$lt": settled}}, fields):
        if not job_is_live(kind.job_id(doc["_id"]), on=kind.queue):
            drop_job(kind, doc["_id"])
            submit(doc)
            resubmitted += 1
    for doc in kind.docs.find({"status": kind.running, "heartbeatAt": {"$lt": settled}},
                              {"runId": 1, "attempts": 1, "heartbeatAt": 1, **(running_fields or {})}):
        if doc["heartbeatAt"] < stale or not job_is_live(kind.job_id(doc["_id"])):
            rescue(doc, now)
            rescued += 1
    return resubmitted, rescued


def requeue(kind, doc, now, max_attempts, failed_error, requeued):
    """A lost run: failed with ``failed_error`` once it has had ``max_attempts`` attempts, else back to
    ``queued`` with the ``requeued`` fields and its old job dropped. True when the caller should submit it."""
    owned = {"_id": doc["_id"], "runId": doc["runId"], "status": kind.running}
    if doc.get("attempts", 0) >= max_attempts:
        kind.docs.update_one(owned, {"$set": {"status": kind.failed, "finishedAt": now, "updated_at": now,
                                              "error": failed_error}})
        return False
    done = kind.docs.update_one(owned, {"$set": {"status": kind.queued, "runId": None, "updated_at": now,
                                                 **requeued}})
    if not done.modified_count:
        return False
    drop_job(kind, doc["_id"])
    return True
