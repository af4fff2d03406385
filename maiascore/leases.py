"""Leased jobs (trainings, scoring runs): one resource for both, from the service to the sweep.

A ``Kind`` is one collection of them; its methods are the service side (read, ``submit`` to
RQ, ``cancel_or_delete``). On the worker side, a claim moves a document to ``running`` and
stamps it with a fresh ``runId``. Every later write is conditional on that ``runId`` and on
``running``: a canceled run, or one superseded after its worker was presumed dead, finds its
writes refused and stops. A heartbeat thread keeps ``heartbeatAt`` fresh while the run lives,
which is how the sweep (``recover``) tells a long run from a dead worker; it re-queues (or
fails) the dead ones and re-submits the lost jobs.

Account groups take turns on the queue the kinds share (``take_turn``): a job whose group was
served more recently than another group with a job waiting goes behind the queue, so one group's
row of trainings and scoring runs never holds another group's until it is done.

Below the domains: it knows a collection and its states, not what a training or a run does.
"""
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import redis.exceptions
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db, get_redis, redis_key
from maiascore.errors import Conflict, NotFound
from maiascore.queue import TRAININGS, enqueue, job_is_live, queue


TURNS = "leased-turns"  # account group -> when it last started a leased job, across every Kind
TURN_LOOKAHEAD = 500  # the waiting jobs a turn looks at: the head of the queue is where turns are decided
TURN_RETRIES = 1_000_000  # RQ needs a bound; past it the job fails in RQ and the sweep re-submits the document


class RunAborted(Exception):
    """The document was canceled, or another attempt took it over: stop without writing."""


@dataclass(frozen=True)
class Kind:
    """One collection of leased documents: where they are, their states, how their jobs and logs name them."""

    collection: str
    noun: str  # "training", "scoring run": what the log lines and errors call one
    job_prefix: str  # a document's job id is ``<job_prefix>-<id>``
    log: logging.Logger
    queued: str = "queued"
    running: str = "running"
    failed: str = "failed"
    canceled: str = "canceled"
    waiting: tuple = ("queued",)  # not started: a job in Redis should exist for them
    max_attempts: int = 2  # a run whose worker was lost this often fails
    queue: str = TRAININGS  # the queue its jobs go to, a name as in ``maiascore.queue.QUEUES``

    @property
    def active(self):
        """Not finished: a DELETE cancels these."""
        return (*self.waiting, self.running)

    @property
    def docs(self):
        return get_db()[self.collection]

    def job_id(self, doc_id):
        return f"{self.job_prefix}-{doc_id}"

    # the service side: read, submit, cancel or delete

    def get(self, aid, doc_id):
        """The group's document; NotFound otherwise, a malformed id included (ids leak nothing)."""
        try:
            doc = self.docs.find_one({"_id": ObjectId(doc_id), "aid": aid})
        except (InvalidId, TypeError):
            doc = None
        if doc is None:
            raise NotFound(f"{self.noun.capitalize()} not found")
        return doc

    def page(self, query):
        """``query``: the route's ``ListQuery``, its filter already limited to the caller's group."""
        return list(self.docs.find(query.filter).sort(query.sort).skip(query.skip).limit(query.limit))

    def count(self, query):
        return self.docs.count_documents(query.filter)

    def submit(self, job, doc_id, at=None):
        """Hands the document's job to RQ (at ``at``, if given), its group in the job's ``meta`` for the
        turns (``take_turn``); with Redis away the sweep submits it later."""
        doc = self.docs.find_one({"_id": ObjectId(str(doc_id))}, {"aid": 1})
        meta = {"aid": str(doc["aid"])} if doc else {}
        try:
            enqueue(self.queue, job, str(doc_id), job_id=self.job_id(doc_id), at=at,
                    timeout=settings().TRAINING_JOB_TIMEOUT, meta=meta)
        except redis.exceptions.RedisError as exc:
            self.log.warning("%s %s not enqueued (%s); the sweep will enqueue it", self.noun, doc_id,
                             type(exc).__name__)

    def cancel_or_delete(self, aid, doc_id, user_id, canceled=None, deleting=None, deleted=None):
        """Cancels a document that has not finished, deletes a finished one; returns it. ``canceled(doc)``,
        ``deleting(doc)`` (may refuse by raising) and ``deleted(doc)`` are the kind's own steps."""
        for _ in range(3):  # the status may move under us; each pass re-reads it
            doc = self.get(aid, doc_id)
            if doc["status"] in self.active:
                done = cancel(self, doc, user_id)
                if done is None:
                    continue
                if doc["status"] != self.running:
                    drop_job(self, doc["_id"])
                if canceled is not None:
                    canceled(doc)
                return done
            if deleting is not None:
                deleting(doc)
            if self.docs.delete_one({"_id": doc["_id"], "status": doc["status"]}).deleted_count:
                if deleted is not None:
                    deleted(doc)
                return doc
        raise Conflict(f"The {self.noun} changed while it was being deleted; try again")


# --- the worker side ----------------------------------------------------------------------------


def take_turn(kind, doc_id):
    """None when it is the document's group's turn (the group is then marked served), else the ``Retry``
    its job returns to go behind the queue: another group has a job waiting on the queue and was served
    less recently (or never). So groups are served in turn, whatever order their jobs were posted in.
    With Redis away, or the document gone (the job then finds nothing to do), there are no turns."""
    try:
        doc = kind.docs.find_one({"_id": ObjectId(str(doc_id))}, {"aid": 1})
    except InvalidId:
        doc = None
    if doc is None:
        return None
    aid, turns = str(doc["aid"]), redis_key(TURNS)
    try:
        r = get_redis()
        waiting = queue(kind.queue).get_job_ids(0, TURN_LOOKAHEAD - 1)
        others = {job.meta.get("aid") for job in Job.fetch_many(waiting, connection=r) if job is not None}
        others -= {aid, None}
        if others:
            mine, *theirs = r.zmscore(turns, [aid, *others])
            if any((served or 0) < (mine or 0) for served in theirs):
                kind.log.info("%s %s goes behind the queue: another group was served less recently", kind.noun,
                              doc_id)
                return Retry(max=TURN_RETRIES, interval=0)
        r.zadd(turns, {aid: time.time()})
        r.expire(turns, 7 * 86400)
    except redis.exceptions.RedisError as exc:
        kind.log.warning("turns unavailable (%s): %s %s runs now", type(exc).__name__, kind.noun, doc_id)
    return None


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


def recover(kind, submit, requeued, fields, running_fields=None):
    """The sweep: re-submits the waiting documents whose job is gone (a Redis restart loses them) or sits
    on a queue none of this deployment's workers listen to (it is moved), and rescues the running ones
    whose worker stopped heart-beating (or whose job is gone): back to ``queued`` with the fields
    ``requeued(doc, reason)`` gives, and submitted; failed once they have had ``max_attempts`` attempts.
    ``fields``: what ``submit(doc)`` reads of a waiting document.

    Returns ``(resubmitted, rescued)``.
    """
    cfg = settings()
    now = utcnow()
    settled = now - timedelta(seconds=cfg.SWEEP_GRACE_SECONDS)
    stale = now - timedelta(seconds=3 * cfg.TRAINING_HEARTBEAT_SECONDS)
    resubmitted = rescued = 0
    for doc in kind.docs.find({"status": {"$in": list(kind.waiting)}, "updated_at": {"$lt": settled}}, fields):
        if not job_is_live(kind.job_id(doc["_id"]), on=kind.queue):
            drop_job(kind, doc["_id"])
            submit(doc)
            resubmitted += 1
    for doc in kind.docs.find({"status": kind.running, "heartbeatAt": {"$lt": settled}},
                              {"runId": 1, "attempts": 1, "heartbeatAt": 1, **(running_fields or {})}):
        if doc["heartbeatAt"] < stale or not job_is_live(kind.job_id(doc["_id"])):
            if _requeue(kind, doc, now, requeued):
                submit({"_id": doc["_id"], "status": kind.queued})
            rescued += 1
    if resubmitted or rescued:
        kind.log.warning("%s sweep: %s waiting re-submitted, %s lost runs rescued", kind.noun, resubmitted, rescued)
    return resubmitted, rescued


def _requeue(kind, doc, now, requeued):
    """A lost run: failed once it has had ``max_attempts`` attempts, else back to ``queued`` and its old
    job dropped. True when the caller should submit it."""
    stopped = (f"The worker running this {kind.noun} stopped (last heartbeat "
               f"{doc['heartbeatAt'].isoformat(timespec='seconds')})")
    owned = {"_id": doc["_id"], "runId": doc["runId"], "status": kind.running}
    if doc.get("attempts", 0) >= kind.max_attempts:
        kind.docs.update_one(owned, {"$set": {"status": kind.failed, "finishedAt": now, "updated_at": now,
                                              "error": f"{stopped} on {kind.max_attempts} attempts; launch it again"}})
        return False
    done = kind.docs.update_one(owned, {"$set": {"status": kind.queued, "runId": None, "updated_at": now,
                                                 **requeued(doc, stopped)}})
    if not done.modified_count:
        return False
    drop_job(kind, doc["_id"])
    return True
