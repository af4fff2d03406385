"""Waiting for a score: ``?wait=N`` / ``Prefer: wait=N`` hold the answer until the report is settled.

The scoring jobs publish on the channel of a report's ``batch`` value (``notification``):
the result's fields themselves when every result of the write landed, else a bare nudge to read
the report again. A POST that waits (``create_and_wait``) is scored in the request when it can
be (``request_lane``); else it subscribes to the channel of its report's ``batch`` token
(``listening``) and hands the report to its group's drain, which stores it with its result: the
answer then needs no MongoDB access at all. Other waits read the report once after subscribing.
A waiter re-reads the report after 0.5 to 1.5 s of silence regardless, so a lost message (or
Redis down) only costs latency, and many waits do not read the database in step.

A waiting request holds its own thread and one Redis pub/sub connection, nothing else: MongoDB
connections go back to the pool after each read. Each account group may have at most
``MAX_WAITS_PER_GROUP`` waits at once (``slot``), so one tenant cannot park every web thread.
"""
import math
import os
import random
import secrets
import threading
import time
from contextlib import contextmanager

import redis.exceptions

from config import settings
from maiascore.connections import find_in_group, get_db, get_redis, redis_key
from maiascore.errors import Invalid, RateLimited
from maiascore.reports import notification, request_lane, service
from maiascore.reports.documents import new_token, with_result
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


_idle = threading.local()  # per web thread: a pub/sub connection kept open between waits


def _take_pubsub():
    """This thread's idle PubSub, or a new one: closing one closes its TCP connection, and opening one
    costs a connect and a handshake per waiting request."""
    key = (os.getpid(), settings().REDIS_URL)
    idle = getattr(_idle, "pubsub", None)
    _idle.pubsub = None
    if idle is not None and idle[0] == key:
        return idle[1]
    return get_redis().pubsub()


def _park_pubsub(pubsub):
    _idle.pubsub = ((os.getpid(), settings().REDIS_URL), pubsub)


class _Subscription:
    """A pub/sub subscription to one ``batch`` token's channel; ``confirmed`` once Redis acknowledged it,
    after which no publish on the channel can be missed. Messages of another channel (left from the
    connection's previous wait) are skipped."""

    def __init__(self, batch_id):
        self.batch_id = batch_id
        self.channel = notification.scored_channel(batch_id).encode()
        self.pubsub = None
        self.confirmed = False
        try:
            self.pubsub = _take_pubsub()
            self.pubsub.subscribe(self.channel)
        except redis.exceptions.RedisError:
            self.abandon()

    def _next(self, kind, timeout):
        """The next message of ``kind`` on this channel within ``timeout`` seconds, or None."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if message is not None and message["type"] == kind and message["channel"] == self.channel:
                return message
            if message is None and time.monotonic() >= deadline:
                return None

    def confirm(self):
        """Waits (one round trip) for Redis to acknowledge the subscription."""
        try:
            self.confirmed = self.pubsub is not None and self._next("subscribe", 1.0) is not None
        except redis.exceptions.RedisError:
            self.abandon()
        return self

    def next_result(self, timeout):
        """The result fields a message within ``timeout`` carried; None after a bare nudge or silence.
        Raises RedisError when the subscription broke."""
        message = self._next("message", timeout)
        return None if message is None else notification.decode_result(message["data"])

    def abandon(self):
        """Closes a broken subscription's connection."""
        if self.pubsub is not None:
            try:
                self.pubsub.close()
            except redis.exceptions.RedisError:
                pass
        self.pubsub = None

    def close(self):
        """Unsubscribes and keeps the connection for the thread's next wait."""
        if self.pubsub is None:
            return
        try:
            self.pubsub.unsubscribe(self.channel)
        except redis.exceptions.RedisError:
            self.abandon()
            return
        _park_pubsub(self.pubsub)
        self.pubsub = None


@contextmanager
def listening():
    """A subscription to a fresh ``batch`` token's channel, confirmed, for a report not stored yet:
    ``service.new_report(..., subscription.batch_id)``, then ``wait_for_result(..., subscription)``."""
    subscription = _Subscription(new_token()).confirm()
    try:
        yield subscription
    finally:
        subscription.close()


def create_and_wait(body, caller, seconds):
    """``POST /reports?wait=N`` (``seconds`` > 0): the report, stored, once scored or after ``seconds``.

    Scored in this process when it can be (``request_lane``): stored once, with its result.
    Else, with a confirmed subscription, the report is handed to the group's drain, which
    stores it with its result (``service.hand_off_report``); the answer then needs no MongoDB
    access. When no result came within WAIT_HANDOFF_SECONDS, or a nudge said the drain could not
    store it, the request stores it (a no-op if the drain did) and waits on as for any report.
    """
    doc = service.new_report(body, caller)
    stored = request_lane.score_in_request(doc, caller)
    if stored is not None:
        return stored
    with slot(caller.aid, seconds), listening() as subscription:  # a refused wait stores nothing
        if not subscription.confirmed:  # Redis refused: store first, then wait by reading
            doc, _ = service.store_report(doc, caller)
            return wait_for_result(doc, seconds, caller)
        deadline = time.monotonic() + seconds
        doc = {**doc, "batch": subscription.batch_id}
        if service.hand_off_report(doc, caller):
            fields = None
            try:
                fields = subscription.next_result(min(seconds, settings().WAIT_HANDOFF_SECONDS))
            except redis.exceptions.RedisError:
                subscription.abandon()
            if fields is not None:
                return with_result(doc, fields)
        doc, _ = service.store_report(doc, caller)
        return wait_for_result(doc, deadline - time.monotonic(), caller, subscription)


def _reread_after():
    """Seconds of silence before a waiter reads its report again: 0.5 to 1.5, drawn each time, so that many
    waits opened at once do not all read the database in the same instant every second."""
    return random.uniform(0.5, 1.5)


def is_settled(doc):
    return doc.get("status") in SETTLED


def wait_for_result(doc, seconds, caller, subscription=None):
    """The report once it is processed, failed or waiting for a model, or after ``seconds``.

    ``subscription``: one taken (and confirmed) on the report's ``batch`` before the report was
    stored; the report is then not read again unless a message asks for it."""
    if seconds <= 0 or doc.get("status") in SETTLED:
        return doc
    deadline = time.monotonic() + seconds
    own = subscription is None or subscription.batch_id != doc.get("batch")
    if own:
        subscription = _Subscription(doc["batch"])
    read = own or not subscription.confirmed
    try:
        while True:
            if read:
                current = find_in_group(get_db().score_reports, doc["_id"], caller.aid)
                if current is None or current.get("status") in SETTLED:
                    return current or doc
                doc = current
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return doc
            if subscription.pubsub is None:
                time.sleep(min(remaining, 0.05))
                read = True
                continue
            try:
                fields = subscription.next_result(min(remaining, _reread_after()))
            except redis.exceptions.RedisError:
                subscription.abandon()
                read = True
                continue
            if fields is not None:
                return with_result(doc, fields)
            read = True  # a nudge, or a second of silence: read the report
    finally:
        if own:
            subscription.close()
