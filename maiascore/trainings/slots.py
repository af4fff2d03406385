"""At most ``TRAININGS_PER_GROUP`` trainings of one account group run at once.

A slot is a member of the Redis sorted set ``maiascore:training-slots:<aid>``, the training's id,
scored with the time its lease ends. Taking one is one Lua call (expired leases dropped, then
a free slot taken), so two workers never both take the last slot. The holder renews its lease
every heartbeat; a killed worker's slot frees itself when its lease runs out (three heartbeats),
as the recovery sweep would notice. If Redis loses the set, at most N more trainings may run
for a moment: the slots bound the load, the training document stays the truth.
"""
import logging
import threading
import time

import redis.exceptions

from config import settings
from maiascore.connections import get_redis

log = logging.getLogger("maiascore.trainings.slots")
TAKEN, ALREADY_HELD, FULL = 1, 2, 0

# KEYS[1] the group's set; ARGV: training id, now, lease end, limit, key ttl (s)
TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 2
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
"""


def key(aid):
    return f"maiascore:training-slots:{aid}"


def lease_seconds():
    return 3 * settings().TRAINING_HEARTBEAT_SECONDS


class GroupSlot:
    """One training's slot among its group's; a context manager that renews the lease while it runs."""

    def __init__(self, aid, training_id, state):
        self.aid, self.training_id, self.state = aid, str(training_id), state
        self._stop = threading.Event()
        self._renewer = None
        self._kept = False

    @classmethod
    def take(cls, aid, training_id):
        """The slot, or None when the group already runs ``TRAININGS_PER_GROUP`` trainings."""
        now = time.time()
        lease = lease_seconds()
        state = get_redis().eval(TAKE, 1, key(aid), str(training_id), now, now + lease,
                                 settings().TRAININGS_PER_GROUP, max(lease, settings().TRAINING_JOB_TIMEOUT) * 2)
        return None if int(state) == FULL else cls(aid, training_id, int(state))

    def renew(self):
        get_redis().zadd(key(self.aid), {self.training_id: time.time() + lease_seconds()}, xx=True)

    def keep(self):
        """Leave the slot to whoever else holds it for this training."""
        self._kept = True

    def release(self):
        try:
            get_redis().zrem(key(self.aid), self.training_id)
        except redis.exceptions.RedisError as exc:  # the lease runs out by itself
            log.warning("slot of training %s not released (%s)", self.training_id, type(exc).__name__)

    def __enter__(self):
        self._renewer = threading.Thread(target=self._renew, name=f"slot-{self.training_id}", daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._renewer.join(timeout=5)
        if not self._kept:
            self.release()
        return False

    def _renew(self):
        while not self._stop.wait(settings().TRAINING_HEARTBEAT_SECONDS):
            try:
                self.renew()
            except redis.exceptions.RedisError:  # retried on the next beat
                log.warning("slot lease of training %s not renewed", self.training_id, exc_info=True)
