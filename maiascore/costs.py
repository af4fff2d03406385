"""What a heavy read costs its account group, so that one group's expensive queries cannot slow the others.

A heavy shape (a substring filter, a sort no index serves, widget data over a long window) counts
``HEAVY_QUERY_WEIGHT`` requests against the group's per-minute rate budget (the window the request
guard counts in), holds one of the group's ``HEAVY_QUERIES_PER_GROUP`` slots while it runs, and
the time it took is counted against the group's ``HEAVY_READ_MS_PER_MINUTE``: a database serves
every group, and a scan keeps it from the others while it runs, so a group's heavy reads may
occupy it only that long a minute. One that runs past its time bound spends the rest of that
minute: the database may go on with it after the client gave up. Slots are a sorted set per group
scored by deadlines, so a slot a crashed process never gave back counts only until its deadline.
Redis trouble fails open, as the rate limit does.

Scoring a waiting POST's report in the web process (``reports.request_lane``) takes the web tier's
CPU, which every group shares: a group's reports are scored there for at most
``WEB_SCORING_MS_PER_MINUTE`` a minute, the rest in the workers, group by group in turn.

Every read a client shapes runs within ``QUERY_MAX_TIME_MS``, a heavy one within the shorter
``HEAVY_QUERY_MAX_TIME_MS`` (``bounded_reads``): MongoDB is sent that ``maxTimeMS`` and the client
waits no longer either.
"""
import secrets
import time
from contextlib import contextmanager

import pymongo
import pymongo.errors
import redis.exceptions

from config import settings
from maiascore.connections import get_redis, redis_key, run_script
from maiascore.errors import RateLimited, Unavailable

SLOT_MARGIN_SECONDS = 30  # past the query's own time bound: a slot's life when its holder vanished


def rate_key(aid):
    """The Redis counter of the account group's requests in its current one-minute window."""
    return redis_key("ratelimit", aid)


def _slots_key(aid):
    return redis_key("heavy", aid)


def _time_key(aid):
    return redis_key("heavy-ms", aid)


def _scoring_key(aid):
    return redis_key("web-scoring-ms", aid)


def time_bound(heavy=False):
    """``(setting, milliseconds)``: how long MongoDB may spend on a read a client shaped; shorter for a
    heavy one, which keeps the database from the other groups while it runs."""
    cfg = settings()
    if heavy:
        return "HEAVY_QUERY_MAX_TIME_MS", cfg.HEAVY_QUERY_MAX_TIME_MS
    return "QUERY_MAX_TIME_MS", cfg.QUERY_MAX_TIME_MS


def query_timeout_message(heavy=False):
    name, limit = time_bound(heavy)
    return (f"The query ran longer than {name} ({limit} ms) allows: narrow its filter, sort on an indexed field "
            "or ask for a shorter window")


class QueryTimedOut(Unavailable):
    """A read ran past its time bound."""


@contextmanager
def bounded_reads(heavy=False):
    """MongoDB operations within their ``time_bound``; past it, ``QueryTimedOut`` naming the setting."""
    try:
        with pymongo.timeout(time_bound(heavy)[1] / 1000):
            yield
    except pymongo.errors.PyMongoError as exc:
        if not exc.timeout:
            raise
        raise QueryTimedOut(query_timeout_message(heavy)) from exc


def spend_minute(aid):
    """A heavy read ran past its bound: the database may still be at it, and the same read would run past
    again, so it spends what is left of the group's HEAVY_READ_MS_PER_MINUTE."""
    try:
        run_script(_CHARGE, [_time_key(aid)], [settings().HEAVY_READ_MS_PER_MINUTE, 60])
    except redis.exceptions.RedisError:
        pass


# KEYS: one of the group's per-minute counters (requests, heavy-read ms). ARGV: amount, window seconds.
# Returns {total, ttl}; the window starts at its first count.
_CHARGE = """
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {used, ttl}
"""

# KEYS: the group's slots. ARGV: now, deadline, member, limit, expiry seconds. Returns 1 when taken.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def charge(aid, what):
    """Counts a heavy read against the group's budgets: its rate (the request itself was counted once
    already) and the database time its heavy reads took this minute."""
    cfg = settings()
    try:
        spent, ttl = run_script(_CHARGE, [_time_key(aid)], [0, 60])
    except redis.exceptions.RedisError:
        spent = 0
    if spent >= cfg.HEAVY_READ_MS_PER_MINUTE:
        raise RateLimited(f"The heavy reads of account group {aid} took {spent} ms of database time this minute, "
                          f"past HEAVY_READ_MS_PER_MINUTE ({cfg.HEAVY_READ_MS_PER_MINUTE}); {what} is one",
                          retry_after=ttl if ttl and ttl > 0 else 60)
    extra = max(cfg.HEAVY_QUERY_WEIGHT - 1, 0)
    if not extra:
        return
    try:
        used, ttl = run_script(_CHARGE, [rate_key(aid)], [extra, 60])
    except redis.exceptions.RedisError:
        return
    if used > cfg.RATE_LIMIT_PER_MINUTE:
        raise RateLimited(f"{what} counts {cfg.HEAVY_QUERY_WEIGHT} requests (HEAVY_QUERY_WEIGHT) against the rate "
                          f"limit of {cfg.RATE_LIMIT_PER_MINUTE} requests a minute (RATE_LIMIT_PER_MINUTE) of "
                          f"account group {aid}", retry_after=ttl if ttl and ttl > 0 else 60)


def take_slot(aid, what):
    """One of the group's heavy-read slots; the member to give back, or None when Redis could not say."""
    cfg = settings()
    lifetime = cfg.HEAVY_QUERY_MAX_TIME_MS / 1000 + SLOT_MARGIN_SECONDS
    member, now = secrets.token_hex(8), time.time()
    try:
        taken = run_script(_TAKE, [_slots_key(aid)],
                           [now, now + lifetime, member, cfg.HEAVY_QUERIES_PER_GROUP, int(lifetime) + 1])
    except redis.exceptions.RedisError:
        return None
    if not taken:
        raise RateLimited(f"At most {cfg.HEAVY_QUERIES_PER_GROUP} heavy reads of account group {aid} may run at "
                          f"once (HEAVY_QUERIES_PER_GROUP); {what} is one: retry shortly", retry_after=1)
    return member


def give_back(aid, member):
    if member is None:
        return
    try:
        get_redis().zrem(_slots_key(aid), member)
    except redis.exceptions.RedisError:
        pass  # its deadline frees it


@contextmanager
def heavy_read(aid, what):
    """Charges a heavy read (``what`` names it in the refusals) and holds a slot while it runs."""
    charge(aid, what)
    member = take_slot(aid, what)
    started = time.monotonic()
    try:
        yield
    except QueryTimedOut:
        spend_minute(aid)
        raise
    finally:
        give_back(aid, member)
        spend(aid, time.monotonic() - started)


def spend(aid, seconds):
    """Adds database time the group's reads took to its HEAVY_READ_MS_PER_MINUTE budget: heavy reads, and
    the evaluations of its alert rules, so that its rules and its own reads share one budget."""
    try:
        run_script(_CHARGE, [_time_key(aid)], [max(1, int(seconds * 1000)), 60])
    except redis.exceptions.RedisError:
        pass


_web_scoring_spent = {}  # aid -> monotonic time its WEB_SCORING_MS_PER_MINUTE window ends, once spent (this process)


def web_scoring_allowed(aid):
    """Whether the group had WEB_SCORING_MS_PER_MINUTE left when this process last charged it: no round trip
    per request; a process learns the budget is spent from its own charge, so each overshoots by one."""
    until = _web_scoring_spent.get(aid)
    return until is None or time.monotonic() >= until


def spend_web_scoring(aid, seconds):
    """Adds the web process CPU a report's scoring took to the group's WEB_SCORING_MS_PER_MINUTE."""
    try:
        spent, ttl = run_script(_CHARGE, [_scoring_key(aid)], [max(1, int(seconds * 1000)), 60])
    except redis.exceptions.RedisError:
        return
    if spent >= settings().WEB_SCORING_MS_PER_MINUTE:
        _web_scoring_spent[aid] = time.monotonic() + max(int(ttl), 1)
    else:
        _web_scoring_spent.pop(aid, None)
