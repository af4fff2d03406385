"""Waiting for a score: ``?wait=N`` / ``Prefer: wait=N`` hold the answer until the report is settled.

The scoring jobs publish on the channel of a report's ``batch`` value (``batches.notify_scored``);
the waiter re-reads the report at least every second regardless, so a lost message (or Redis
down) only costs latency.

A waiting request holds its own thread and one Redis pub/sub connection, nothing else: MongoDB
connections go back to the pool after each read. Each account group may have at most
``MAX_WAITS_PER_GROUP`` waits at once (``slot``), so one tenant cannot park every web thread.
"""
import math
import secrets
import time
from contextlib import contextmanager

import redis.exceptions

from config import settings
from maiascore.connections import get_db, get_redis, redis_key
from maiascore.errors import Invalid, RateLimited
from maiascore.reports import batches
from maiascore.reports.states import SETTLED


def wait_seconds(query_wait, prefer_header):
    """``?wait=N`` beyond MAX_WAIT_SECONDS is refused (400); ``Prefer: wait=N`` is a hint, so clamped."""
    limit = settings().MAX_WAIT_SECONDS
    if query_wait is not None:
        if query_wait > limit:
            raise Invalid(f"wait is at most {limit} seconds")
        return float(query_wait)
    for preference in (prefer_header or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                seconds = float(value.strip().strip('"'))
            except ValueError:
                return 0.0
            return 0.0 if math.isnan(seconds) else min(max(seconds, 0.0), float(limit))  # a hint of nothing
    return 0.0


def _slots_key(aid):
    return redis_key("waits", aid)


@contextmanager
def slot(aid, seconds):
    """One of the group's ``MAX_WAITS_PER_GROUP`` wait slots for ``seconds``; 429 when all are taken.

    A sorted set of the group's waits scored by their deadlines: a slot a crashed process never
    gave back counts only until its deadline. Redis down: no cap (the waiter then polls MongoDB)."""
    if seconds <= 0:
        yield
        return
    limit = settings().MAX_WAITS_PER_GROUP
    key, member = _slots_key(aid), secrets.token_hex(8)
    now = time.time()
    try:
        pipe = get_redis().pipeline()
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.zadd(key, {member: now + seconds + 5})
        pipe.zcard(key)
        pipe.expire(key, int(seconds) + 10)
        taken = pipe.execute()[2]
    except redis.exceptions.RedisError:
        member = None
        taken = 0
    try:
        if taken > limit:
            raise RateLimited(f"At most {limit} requests of account group {aid} may wait for a score at once "
                              f"(MAX_WAITS_PER_GROUP); retry later, or without wait and read the report after",
                              retry_after=1)
        yield
    finally:
        if member is not None:
            try:
                get_redis().zrem(key, member)
            except redis.exceptions.RedisError:
                pass  # its deadline frees it


def is_settled(doc):
    return doc.get("status") in SETTLED


def wait_for_result(doc, seconds, caller):
    """The report once it is processed, failed or waiting for a model, or after ``seconds``."""
    if seconds <= 0 or doc.get("status") in SETTLED:
        return doc
    deadline = time.monotonic() + seconds
    pubsub = None
    try:
        pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(batches.scored_channel(doc["batch"]))
    except redis.exceptions.RedisError:
        pubsub = None
    try:
        while True:
            current = get_db().score_reports.find_one({"_id": doc["_id"], "aid": caller.aid})
            if current is None or current.get("status") in SETTLED:
                return current or doc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return current
            if pubsub is not None:
                try:
                    pubsub.get_message(timeout=min(remaining, 1.0))
                    continue
                except redis.exceptions.RedisError:
                    pubsub = None
            time.sleep(min(remaining, 0.05))
    finally:
        if pubsub is not None:
            try:
                pubsub.close()
            except redis.exceptions.RedisError:
                pass
