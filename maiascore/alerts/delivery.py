"""Sending notifications: signed webhook POSTs and emails, one attempt at a time, every attempt logged.

A webhook POST carries ``X-MaiaScore-Signature: t=<unix seconds>,v1=<hex>`` where ``v1`` is
HMAC-SHA256, keyed with the connector's signing secret, over ``<t>.<body>``. It goes to an
address ``targets.check`` has just allowed (the connection is pinned to it), redirects are
not followed, and of the answer only the status and the latency are kept.
"""
import base64
import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import time
from datetime import timedelta

from config import settings
from maiascore.alerts import states, targets
from maiascore.alerts.connectors import CONNECTORS, OPERATIONS, url_of
from maiascore.alerts.evaluation import DELIVERIES, NEVER
from maiascore.auth import mail
from maiascore.clock import stored_now
from maiascore.connections import get_db
from maiascore.errors import Invalid

log = logging.getLogger("maiascore.alerts.delivery")
USER_AGENT = "MaiaScore-Webhooks/1"
MAX_ANSWER_BYTES = 64 * 1024  # read and dropped, so the endpoint is not cut off mid-answer


class DeliveryError(Exception):
    """An attempt that failed before an HTTP status; the message is safe to show the tenant."""


def signature(secret, timestamp, body):
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to an address already checked, whatever the name resolves to now."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url, body, headers, timeout):
    """POSTs ``body``; the HTTP status, or ``DeliveryError``. Nothing of the answer but its status leaves."""
    try:
        target = targets.check(url)
    except Invalid as refused:
        raise DeliveryError(f"target refused: {refused.message}")
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = kind(target.host, target.port, target.addresses[0], timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read(MAX_ANSWER_BYTES)
        return answer.status
    except socket.timeout:
        raise DeliveryError(f"no answer within {timeout:g} s")
    except ConnectionRefusedError:
        raise DeliveryError("connection refused")
    except ssl.SSLError:
        raise DeliveryError("TLS handshake failed")
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"connection failed ({type(exc).__name__})")
    finally:
        connection.close()


def _auth_header(authentication):
    if not authentication:
        return {}
    if authentication["type"] == "basic":
        raw = f"{authentication['username']}:{authentication['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    if authentication["type"] == "bearer-token":
        return {"Authorization": "Bearer " + authentication["token"]}
    return {"Authorization": authentication["token"]}


def _send_webhook(doc):
    db = get_db()
    connector = db[CONNECTORS].find_one({"aid": doc["aid"], "_id": doc["connectorId"]})
    operation = db[OPERATIONS].find_one({"aid": doc["aid"], "_id": doc["operationId"]})
    if connector is None or operation is None:
        raise DeliveryError("the connector or webhook operation was deleted")
    body = doc["payload"].encode()
    timestamp = str(int(time.time()))
    headers = {h["name"]: h["value"] for h in (connector.get("headers") or []) + (operation.get("headers") or [])}
    headers.update(_auth_header(connector.get("authentication")))
    headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT,
                    "X-MaiaScore-Event": doc["event"], "X-MaiaScore-Delivery": doc["_id"],
                    "X-MaiaScore-Timestamp": timestamp,
                    "X-MaiaScore-Signature": signature(connector["secret"], timestamp, body)})
    return post(url_of(connector, operation), body, headers, settings().WEBHOOK_TIMEOUT_SECONDS)


def _send_email(doc):
    alert = json.loads(doc["payload"])["alert"]
    verb = "cleared" if doc["event"] == states.EVENT_CLEAR else "started"
    subject = f"[MaiaScore {alert['severity']}] {alert['ruleName']}: alert {verb}"
    lines = [f"Alert {alert['alertId']} {verb}.", "", f"Rule: {alert['ruleName']} {alert['expression']}",
             f"Measured: {alert['value']} over {alert['count']} {alert['dataSource'].lower()} in the last "
             f"{alert['windowSeconds']} s", f"Started: {alert['startDate']}"]
    if alert.get("endDate"):
        lines.append(f"Cleared: {alert['endDate']}")
    if doc.get("message"):
        lines += ["", doc["message"]]
    try:
        mail.send(mail.compose(", ".join(doc["recipients"]), subject, "\n".join(lines) + "\n"))
    except OSError as exc:
        raise DeliveryError(f"mail not sent ({type(exc).__name__})")
    return 250


def backoff(attempt):
    cfg = settings()
    return min(cfg.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1), cfg.WEBHOOK_RETRY_MAX_SECONDS)


def attempt(doc):
    """One attempt at ``doc``, logged; True when it arrived."""
    number = len(doc.get("attempts") or []) + 1
    started = time.monotonic()
    status, error = None, None
    try:
        status = (_send_email if doc["kind"] == "email" else _send_webhook)(doc)
    except DeliveryError as exc:
        error = str(exc)
    latency = round((time.monotonic() - started) * 1000, 1)
    arrived = status is not None and (200 <= status < 300 or doc["kind"] == "email")
    if status is not None and 300 <= status < 400:
        error = "redirects are not followed"
    elif status is not None and not arrived:
        error = f"answered {status}"
    now = stored_now()
    record = {"attempt": number, "at": now, "statusCode": status, "latencyMs": latency, "error": error}
    change = {"leaseUntil": NEVER, "lastAttemptAt": now}
    if arrived:
        change.update(status=states.DELIVERED, deliveredAt=now)
    elif number >= settings().WEBHOOK_MAX_ATTEMPTS:
        change.update(status=states.FAILED)
    else:
        change.update(dueAt=now + timedelta(seconds=backoff(number)))
    get_db()[DELIVERIES].update_one({"_id": doc["_id"]}, {"$push": {"attempts": record}, "$set": change})
    if doc["kind"] == "webhook":
        get_db()[OPERATIONS].update_one({"_id": doc["operationId"]},
                                        {"$set": {"status": states.OP_CONNECTED if arrived else states.OP_FAILING}})
    if not arrived:
        log.warning("notification %s attempt %s failed: %s", doc["_id"], number, error)
    return arrived


def _claim(channel, now, lease_seconds):
    return get_db()[DELIVERIES].find_one_and_update(
        {"channel": channel, "status": states.PENDING, "dueAt": {"$lte": now}, "leaseUntil": {"$lte": now}},
        {"$set": {"leaseUntil": now + timedelta(seconds=lease_seconds)}}, sort=[("dueAt", 1), ("_id", 1)])


def run_channel(channel):
    """Sends what is due on one channel, up to WEBHOOK_DELIVERIES_PER_JOB, stopping at the first failure:
    a dead endpoint costs one timeout per job. Returns when the channel next has work, or None."""
    cfg = settings()
    lease = cfg.WEBHOOK_TIMEOUT_SECONDS * 2 + 30
    for _ in range(cfg.WEBHOOK_DELIVERIES_PER_JOB):
        doc = _claim(channel, stored_now(), lease)
        if doc is None:
            break
        if not attempt(doc):
            break
    following = get_db()[DELIVERIES].find_one({"channel": channel, "status": states.PENDING},
                                              sort=[("dueAt", 1)], projection={"dueAt": 1})
    return following["dueAt"] if following else None


def pending_channels(older_than):
    """Channels with work due before ``older_than`` (for the sweep)."""
    rows = get_db()[DELIVERIES].aggregate([
        {"$match": {"status": states.PENDING, "dueAt": {"$lte": older_than}}},
        {"$group": {"_id": "$channel"}}])
    return [row["_id"] for row in rows]
