"""The single-report lane: reports posted one at a time are scored together, by one drain job per account group.

A single report is stored with ``lane: "single"`` and a fresh ``batch`` token (what its
``?wait`` listens to, and what a result must still match to be written), then
``maiascore.reports.jobs.request_drain`` enqueues ``drain_group(aid)`` unless one is
already pending. This module holds the Redis mechanics; the jobs and their enqueueing
live in ``maiascore.reports.jobs``. A drain scores every queued single report of its group, up to
SCORING_BATCH_SIZE per read, ``predict`` and ``bulk_write``, so under load one job
serves many requests.

Two Redis keys per group, both expiring after SCORING_LEASE_SECONDS:

* ``pending``: "there are reports no drain has looked for yet". A POST sets it after
  inserting its report; it enqueues a drain only when no drain holds the lease and it
  was the one that set the flag (the value is then that job's id, for the sweep).
* ``lease``: the one drain scoring the group. Acquiring it deletes ``pending``
  atomically, before the drain reads; a drain that finds it taken sets ``pending``
  instead, atomically, and leaves. The holder, when it runs out of reports, releases
  the lease only if ``pending`` is unset (atomically), and otherwise clears it and reads
  again. So a report inserted before some ``pending`` was set is read by the holder of
  a lease taken after that moment, and there always is one: the holder that will see
  the flag, or the drain the POST enqueued.

Under a steady stream of POSTs a group so has one drain job at a time, looping, and the
POSTs enqueue nothing while it runs.

A POST that waits for its score (``?wait``) does not store its report first: it hands the
report to the drain on a third key, the group's ``handoff`` list, before setting
``pending``, and the drain stores it once, with its result (one insert instead of an
insert, a read and an update). The request stores the report itself when no drain did
within WAIT_HANDOFF_SECONDS, or when Redis refused the hand-off; both stores use the
report's ``_id``, so whichever comes second is a duplicate and changes nothing.

Nothing here is trusted for durability: if Redis is down or loses the keys, the reports
stay ``queued`` in MongoDB and the recovery sweep requests a drain for every group
with single reports queued longer than SWEEP_GRACE_SECONDS and no live drain.
"""
import logging

import bson
import redis.exceptions
from bson import ObjectId
from bson.codec_options import CodecOptions

from config import settings
from maiascore.connections import get_redis, redis_key, run_script
from maiascore.queue import job_is_live

log = logging.getLogger("maiascore.reports")

SINGLE = "single"  # lane of reports queued one at a time: drained per group
BATCH = "batch"  # lane of reports queued in a batch (bulk POST, release on activation): ``score_batch``

# A hand-off nobody took is stored by its web request after WAIT_HANDOFF_SECONDS; one a drain takes later
# is then a duplicate ``_id`` and dropped. The list only needs to outlive the requests that wait on it.
HANDOFF_TTL_SECONDS = 3600
_CODEC = CodecOptions(tz_aware=True)

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


def pending_key(aid):
    return redis_key("drain", f"{{{aid}}}", "pending")  # {aid}: one hash slot for both keys, should Redis be a cluster


def lease_key(aid):
    return redis_key("drain", f"{{{aid}}}", "lease")


def handoff_key(aid):
    return redis_key("drain", f"{{{aid}}}", "handoff")


def take_handoffs(aid, count):
    """Up to ``count`` reports handed off to the group's drain, oldest first; each is taken by one drain."""
    raw = get_redis().lpop(handoff_key(aid), count) or []
    return [decode_bson(item) for item in raw]


def decode_bson(data):
    """A document this module or ``batches`` put on Redis, with MongoDB's own time zone handling."""
    return bson.decode(data, codec_options=_CODEC)


def new_job_id(aid):
    return f"score-drain-{aid}-{ObjectId()}"  # RQ job ids allow letters, digits, "_" and "-" only


def _ttl():
    return max(1, int(settings().SCORING_LEASE_SECONDS))


def claim_request(aid, force=False, handoff=None):
    """The id of the drain job to enqueue now, or None when a drain runs or is pending (``force``: unless
    one runs). ``handoff``: a report a waiting POST has not stored, put on the group's hand-off list in
    the same step, for the drain to store with its result. Raises RedisError when Redis refuses: the
    caller leaves the reports to the sweep (and stores a handed-off report itself)."""
    job_id = new_job_id(aid)
    keys, args = [lease_key(aid), pending_key(aid)], [job_id, _ttl(), "1" if force else "0"]
    if handoff is not None:
        keys.append(handoff_key(aid))
        args += [bson.encode(handoff), HANDOFF_TTL_SECONDS]
    wanted = run_script(_REQUEST, keys, args)
    return job_id if int(wanted) else None


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


class Lease:
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
