"""Waiting for a score: ``?wait=N`` / ``Prefer: wait=N`` hold the answer until the report is settled.

The scoring jobs publish on the channel of a report's ``batch`` value (``batches.notify_scored``);
the waiter re-reads the report at least every second regardless, so a lost message (or Redis
down) only costs latency.
"""
import time

import redis.exceptions

from config import settings
from maiascore.connections import get_db, get_redis
from maiascore.errors import Invalid
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
                return min(max(float(value.strip().strip('"')), 0.0), float(limit))
            except ValueError:
                return 0.0
    return 0.0


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
