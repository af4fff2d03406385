"""Result notification: a scoring write tells the waiters of its reports (``?wait``) on Redis pub/sub.

Each report's ``batch`` value names a channel. A lane publishes there the result fields it
wrote when every result of the write landed (the waiter then needs no read), else a bare
nudge to read the report again. Nothing depends on a message arriving: a waiter re-reads
MongoDB at least every second.
"""
import itertools
import logging

from maiascore.connections import get_redis, redis_key
from maiascore.reports.documents import from_bson, to_bson

log = logging.getLogger("maiascore.reports")

NUDGE = b"1"  # "read the report again"; any other message is a BSON document of the result's fields


def scored_channel(token):
    """Pub/sub channel a job publishes to when the reports under this ``batch`` value have their result."""
    return redis_key("scored", token)


def decode_result(data):
    """The result fields a message carries, or None for a nudge."""
    if not data or data == NUDGE:
        return None
    try:
        return from_bson(data)
    except Exception:  # not ours: read the report
        return None


def notify_scored(token):
    try:
        get_redis().publish(scored_channel(token), NUDGE)
    except Exception:  # waiters fall back to re-reading MongoDB
        log.debug("could not publish completion of batch %s", token)


def notify_scored_many(tokens, results=None):
    """One round trip for many reports, each on its own ``batch`` token's channel: with ``results``
    (the fields written, in the same order) a waiter needs no read."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        for token, fields in zip(tokens, results or itertools.repeat(None)):
            pipe.publish(scored_channel(token), NUDGE if fields is None else to_bson(fields))
        pipe.execute()
    except Exception:  # waiters fall back to re-reading MongoDB
        log.debug("could not publish completions")
