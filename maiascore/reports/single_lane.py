"""The single lane: reports posted one at a time, scored together by one drain job per account group.

A single report is stored queued with ``lane: "single"`` and a token of its own in
``batch``; ``request_drain`` then enqueues ``drain_group(aid)`` unless a drain runs or is
pending. A drain scores every queued single report of its group, up to SCORING_BATCH_SIZE
per read, one ``predict`` and one ``bulk_write`` each, so under load one job serves many
requests.

Two Redis keys per group, both expiring after SCORING_LEASE_SECONDS:

* ``pending``: "there are reports no drain has looked for yet". A POST sets it after
  storing its report; it enqueues a drain only when no drain holds the lease and it was
  the one that set the flag (the value is then that job's id, for the sweep).
* ``lease``: the one drain scoring the group (``DrainLease``). Acquiring it deletes
  ``pending`` atomically, before the drain reads; a drain that finds it taken sets
  ``pending`` instead, atomically, and leaves. The holder, when it runs out of reports,
  releases the lease only if ``pending`` is unset (atomically), and otherwise clears it
  and reads again. So a report stored before some ``pending`` was set is read by the
  holder of a lease taken after that moment, and there always is one.

A POST that waits for its score (``?wait``) does not store its report first: it hands it
to the drain on a third key, the group's ``handoff`` list, in the same step that sets
``pending``, and the drain stores it once, with its result. The request stores the report
itself when no drain did within WAIT_HANDOFF_SECONDS; both stores use the report's
``_id``, so whichever comes second is a duplicate and changes nothing.

Nothing here is trusted for durability: if Redis is down or loses the keys, the reports
stay queued in MongoDB and ``recovery.recover_single_reports`` requests a drain.
"""
import logging
import time

import redis.exceptions
from bson import ObjectId
from rq import get_current_job

from config import settings
from maiascore.connections import get_db, get_redis, redis_key, run_script
from maiascore.queue import SCORES, SINGLES, enqueue, job_is_live
from maiascore.reports import scoring
from maiascore.reports.batch_lane import release_waiting_reports
from maiascore.reports.documents import SINGLE, from_bson, to_bson
from maiascore.reports.notification import notify_scored_many
from maiascore.reports.states import FAILED, QUEUED, WAITING_FOR_MODEL
from maiascore.trainings.registry import active_model, active_model_for_scoring

log = logging.getLogger("maiascore.reports")

# A hand-off nobody took is stored by its web request after WAIT_HANDOFF_SECONDS; one a drain takes later
# is then a duplicate ``_id`` and dropped. The list only needs to outlive the requests that wait on it.
HANDOFF_TTL_SECONDS = 3600
# A drain takes the hand-offs of waiting POSTs before each read and between writes of this many results,
# so a hand-off waits behind a backlog for a small part of WAIT_HANDOFF_SECONDS.
DRAIN_WRITE_SLICE = 200
# Then a drain re-enqueues itself behind the batch lane's jobs: a group that keeps its drain busy takes turns
# with the bulks, and every other group's drain (on the singles queue, served first) goes before it.
DRAIN_TURN_SECONDS = 30

ACQUIRED, BUSY = 1, 0
CONTINUE, RELEASED, LOST = 1, 0, -1

# KEYS: lease, pending[, handoff]. ARGV: job id, ttl, force[, report handed off, its list's ttl]. 1: enqueue that job.
_REQUEST = """
if #KEYS == 3 then
  redis.call('RPUSH', KEYS[3], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[2], 'lease-holder', 'NX', 'EX', ARGV[2])
  return 0
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
  return 1
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
return 0
"""
# KEYS: lease, pending. ARGV: token, ttl, marker.
_ACQUIRE_OR_MARK = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return 1
end
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
return 0
"""
# KEYS: lease, pending. ARGV: token, ttl.
_CONTINUE_OR_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', KEYS[2])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
redis.call('DEL', KEYS[1])
return 0
"""
# KEYS: lease. ARGV: token, ttl.
_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: lease. ARGV: token.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# --- the group's keys ---------------------------------------------------------------------------

def pending_key(aid):
    return redis_key("drain", f"{{{aid}}}", "pending")  # {aid}: one hash slot for the keys, should Redis be a cluster


def lease_key(aid):
    return redis_key("drain", f"{{{aid}}}", "lease")


def handoff_key(aid):
    return redis_key("drain", f"{{{aid}}}", "handoff")


def _ttl():
    return max(1, int(settings().SCORING_LEASE_SECONDS))


def new_job_id(aid):
    return f"score-drain-{aid}-{ObjectId()}"  # RQ job ids allow letters, digits, "_" and "-" only


def claim_request(aid, force=False, handoff=None):
    """The id of the drain job to enqueue now, or None when a drain runs or is pending (``force``: unless
    one runs). ``handoff``: a report a waiting POST has not stored, put on the group's hand-off list in
    the same step. Raises RedisError when Redis refuses."""
    job_id = new_job_id(aid)
    keys, args = [lease_key(aid), pending_key(aid)], [job_id, _ttl(), "1" if force else "0"]
    if handoff is not None:
        keys.append(handoff_key(aid))
        args += [to_bson(handoff), HANDOFF_TTL_SECONDS]
    wanted = run_script(_REQUEST, keys, args)
    return job_id if int(wanted) else None


def take_handoffs(aid, count):
    """Up to ``count`` reports handed off to the group's drain, oldest first; each is taken by one drain."""
    raw = get_redis().lpop(handoff_key(aid), count) or []
    return [from_bson(item) for item in raw]


def mark_pending(aid, job_id):
    """Names the job that will read the group's reports (a drain's scheduled retry)."""
    get_redis().set(pending_key(aid), job_id, ex=_ttl())


def is_pending(aid):
    return bool(get_redis().exists(pending_key(aid)))


def drain_is_live(aid):
    """A drain holds the group's lease, or the job a pending flag names is still waiting to run."""
    conn = get_redis()
    if conn.exists(lease_key(aid)):
        return True
    pending = conn.get(pending_key(aid))
    return pending is not None and job_is_live(pending.decode())


class DrainLease:
    """One drain's hold on its group (see the module docstring for why these steps are atomic)."""

    def __init__(self, aid, marker):
        self.aid = aid
        self.token = str(ObjectId())
        self.marker = marker
        self.keys = [lease_key(aid), pending_key(aid)]

    def _run(self, script, keys, *args):
        return int(run_script(script, keys, args))

    def acquire_or_mark(self):
        """ACQUIRED (and ``pending`` cleared) or BUSY (and ``pending`` set for the holder)."""
        return self._run(_ACQUIRE_OR_MARK, self.keys, self.token, _ttl(), self.marker)

    def continue_or_release(self):
        """CONTINUE (reports arrived since the last clear: read again), RELEASED, or LOST."""
        return self._run(_CONTINUE_OR_RELEASE, self.keys, self.token, _ttl())

    def renew(self):
        return self._run(_RENEW, self.keys[:1], self.token, _ttl()) == 1

    def release(self):
        try:
            self._run(_RELEASE, self.keys[:1], self.token)
        except redis.exceptions.RedisError:  # it expires by itself
            log.warning("could not release the scoring lease of group %s", self.aid)


# --- requesting a drain -------------------------------------------------------------------------

def request_drain(aid, force=False, handoff=None, on=SINGLES):
    """Enqueues ``drain_group`` on queue ``on`` unless one runs or is pending (``force``: unless one runs).
    False when Redis refused: the reports stay queued in MongoDB and the sweep requests the drain later.
    ``handoff``: a report a waiting POST gives the drain to store (the caller stores it on False)."""
    try:
        job_id = claim_request(aid, force, handoff)
        if job_id is not None:
            enqueue(on, drain_group, aid, job_id=job_id, retries=2, timeout=settings().SCORING_JOB_TIMEOUT)
        return True
    except redis.exceptions.RedisError as exc:
        log.warning("could not request a scoring drain for group %s (%s); the recovery sweep will", aid,
                    type(exc).__name__)
        return False


# --- the drain job ------------------------------------------------------------------------------

def drain_group(aid):
    """Scores the group's queued single reports, SCORING_BATCH_SIZE per read, until none is left.

    Holds the group's lease, so one drain per group scores at a time; a drain that finds the
    lease taken leaves the work to its holder. Safe to run twice: a result is written only to a
    report still queued under the token it was read with (``scoring.write_scored``)."""
    job = get_current_job()
    drain = Drain(get_db(), aid, DrainLease(aid, marker=job.id if job is not None else "drain"))
    if drain.lease.acquire_or_mark() != ACQUIRED:
        return drain.summary("another drain holds the lease: it reads these reports")
    try:
        return drain.run()
    except Exception as exc:
        drain.lease.release()
        drain.give_up_or_retry(job, exc)
        raise


class Drain:
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
            reports = list(self.db.score_reports.find({"aid": self.aid, "status": QUEUED, "lane": SINGLE},
                                                      scoring.SCORING_READ)
                           .sort("_id", 1).limit(chunk))
            self.counts["reads"] += 1
            if reports:
                self.in_hand = reports
                self._settle(reports)
                self.in_hand = []
            if len(reports) == chunk or handed == chunk:  # more to read: no need to look at the pending flag
                if not (self.lease.renew() or self.lease.acquire_or_mark() == ACQUIRED):
                    return self.summary("lease lost to another drain")
            else:
                state = self.lease.continue_or_release()
                if state == RELEASED:
                    return self.summary("none left")
                if state == LOST and self.lease.acquire_or_mark() != ACQUIRED:
                    return self.summary("lease lost to another drain")  # it expired, and was taken
            if time.monotonic() > turn_ends:
                self.lease.release()
                request_drain(self.aid, force=True, on=SCORES)
                return self.summary("turn over: re-enqueued")

    def _settle(self, reports):
        """Scores one read's reports with the group's active model (looked up per read: an activation
        is used from the next read on), or parks them until there is one."""
        model_doc = active_model_for_scoring(self.aid)
        if model_doc is None:
            self.counts["waiting_for_model"] += scoring.set_status(self.db, reports, WAITING_FOR_MODEL)
            notify_scored_many(r["batch"] for r in reports)
            if active_model(self.aid) is not None:
                release_waiting_reports(self.aid)  # activated while we parked: do not wait for the next one
            return
        scored, results, failing, error = scoring.score(scoring.scoring_model(self.aid, model_doc), reports)
        for start in range(0, len(scored), DRAIN_WRITE_SLICE):
            if start:
                self._take_handoffs(DRAIN_WRITE_SLICE)  # waiting POSTs do not wait behind a long backlog
            part = slice(start, start + DRAIN_WRITE_SLICE)
            written, fields = scoring.write_scored(self.db, scored[part], results[part])
            self.counts["scored"] += written
            # every result landed: its waiter needs no read; else (one re-queued meanwhile) a nudge to read
            notify_scored_many([r["batch"] for r in scored[part]], fields if written == len(fields) else None)
        if failing:  # stay queued, in hand, for the job's retry (or to be failed after the last one)
            self.in_hand = failing
            raise error

    def _take_handoffs(self, count):
        """Stores up to ``count`` reports handed off by waiting POSTs; how many there were."""
        handed = take_handoffs(self.aid, count)
        if handed:
            self._store_handed(handed)
        return len(handed)

    def _store_handed(self, docs):
        """Stores the reports waiting POSTs handed off, each once and scored. One that cannot be scored now
        (no active model, a failing report) is stored queued, for the read that follows; one stored
        already (by its request, after WAIT_HANDOFF_SECONDS) is left as it is."""
        self.counts["handed_off"] += len(docs)
        model_doc = active_model_for_scoring(self.aid)
        if model_doc is None:
            scored, results, failing = [], [], docs
        else:
            scored, results, failing, _ = scoring.score(scoring.scoring_model(self.aid, model_doc), docs)
        fields, duplicates = scoring.insert_scored(self.db, scored, results, failing)
        self.counts["scored"] += len(scored) - len([i for i in duplicates if i < len(scored)])
        # its result to the waiter of each report stored with it; a nudge (read it) where the request stored it
        messages = [(doc["batch"], None if i in duplicates else f) for i, (doc, f) in enumerate(zip(scored, fields))]
        messages += [(doc["batch"], None) for i, doc in enumerate(failing, len(scored)) if i in duplicates]
        if messages:
            notify_scored_many(*zip(*messages))

    def give_up_or_retry(self, job, exc):
        """Before RQ's last retry the reports stay queued for it (the pending flag names this job, so the
        sweep waits for it); after it, the reports in hand become ``failed`` and a fresh drain takes the rest
        (and the reports POSTed meanwhile, which counted on this drain)."""
        try:
            if job is not None and job.retries_left:
                mark_pending(self.aid, job.id)
                return
            failed = scoring.set_status(self.db, self.in_hand, FAILED, error=scoring.short_error(exc))
            notify_scored_many(r["batch"] for r in self.in_hand)
            if failed or is_pending(self.aid):
                request_drain(self.aid, force=True)
        except Exception:  # MongoDB or Redis down too: the reports stay queued for the sweep
            log.warning("could not record the failure of the scoring drain of group %s", self.aid)
