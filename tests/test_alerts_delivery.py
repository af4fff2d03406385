"""Alerts end to end in real RQ workers with the scheduler, notifications to receivers on 127.0.0.1,
and the webhook targets that must be refused before anything connects."""
import json
import re
import socket
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from maiascore.alerts import delivery, evaluation, states
from maiascore.clock import utcnow
from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parent.parent
CADENCE = 2


def documented_verifier():
    """The verification recipe exactly as docs/alerts.md prints it."""
    text = (ROOT / "docs" / "alerts.md").read_text()
    [code] = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify_signature" in block]
    namespace = {}
    exec(code, namespace)
    return namespace["verify_signature"]


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what arrives and answers ``status``."""

    def __init__(self, status=200, location=None):
        self.status, self.location, self.received = status, location, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                          "at": time.time()})
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "19")
                self.end_headers()
                self.wfile.write(b"secret answer body!")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def events(self):
        return [json.loads(r["body"])["eventType"] for r in self.received]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]
    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def local_hooks(cfg, monkeypatch, tmp_path):
    """Webhooks may reach 127.0.0.1 (in this process and in the workers started after it), fast retries."""
    settings = dict(WEBHOOK_ALLOWED_HOSTS="127.0.0.1", ALERT_EVALUATION_SECONDS=CADENCE, WEBHOOK_TIMEOUT_SECONDS=2.0,
                    WEBHOOK_RETRY_BASE_SECONDS=0.5, WEBHOOK_RETRY_MAX_SECONDS=4.0, WEBHOOK_MAX_ATTEMPTS=4,
                    MAIL_DIR=str(tmp_path / "mail"))
    for key, value in settings.items():
        setattr(cfg, key, value)
        monkeypatch.setenv(key, str(value))
    return cfg


def hook(admin, receiver, name, path="/hook"):
    r = admin.post("/v7/connectors/generic", json={"type": "generic", "name": name, "target": receiver.url})
    assert r.status_code == 201, r.get_json()
    connector = r.get_json()
    r = admin.post("/v7/operations/webhooks", json={"name": name, "category": "alerts", "status": "pending",
                                                    "path": path})
    assert r.status_code == 201, r.get_json()
    operation = r.get_json()
    r = admin.put(f"/v7/operations/webhooks/{operation['id']}/connectors", json=[connector["id"]])
    assert r.status_code == 200, r.get_json()
    return connector["maiascore"]["signingSecret"], operation["id"]


def failing_reports(db, aid, count, status="failed"):
    now = utcnow()
    db.score_reports.insert_many([{"aid": aid, "status": status, "type": "reference", "referenceId": f"f{i}-{now}",
                                   "created_at": now} for i in range(count)])
    return now


def test_failure_burst_alerts_notifies_signed_retries_a_dead_endpoint_and_clears(
        local_hooks, admin, db, live_worker, receivers):
    verify_signature = documented_verifier()
    good, dead = receivers(), receivers(status=503)
    secret, good_op = hook(admin, good, "good")
    _, dead_op = hook(admin, dead, "dead")
    r = admin.post("/v7/alerts/rules", json={
        "ruleName": "Failures", "expression": "((failureRate >= 50%))", "alertType": "api",
        "roundsViolatingOutOf": 1, "notifyOnClear": True, "severity": "critical",
        "notifications": {"webhook": [{"integrationId": good_op}, {"integrationId": dead_op}],
                          "email": {"recipients": ["ops@example.com"]}},
        "maiascore": {"windowSeconds": 4 * CADENCE, "minimumCount": 3}})
    assert r.status_code == 201, r.get_json()
    live_worker(queues=("alerts", "notifications", "scores"))
    assert wait_until(lambda: db.alert_rounds.find_one(), timeout=60)  # the cadence runs
    burst_at = failing_reports(db, admin.aid, 5)

    assert wait_until(lambda: "alert.trigger" in good.events(), timeout=60)
    alert = db.alerts.find_one({"aid": admin.aid})
    burst_tick = int(burst_at.timestamp() // CADENCE)
    assert alert["startDate"].timestamp() <= (burst_tick + 2) * CADENCE  # within two evaluation periods
    trigger = good.received[0]
    assert trigger["path"] == "/hook"
    assert verify_signature(secret, trigger["body"], trigger["headers"]["X-MaiaScore-Signature"], tolerance=300)
    assert not verify_signature("another secret of 32 characters!", trigger["body"],
                                trigger["headers"]["X-MaiaScore-Signature"], tolerance=300)
    payload = json.loads(trigger["body"])
    assert payload["alert"]["ruleName"] == "Failures" and payload["alert"]["value"] == 100.0

    # the failures leave the window; the alert clears and the clear is notified
    assert wait_until(lambda: "alert.clear" in good.events(), timeout=60)
    assert db.alerts.find_one({"_id": alert["_id"]})["state"] == states.CLEAR
    clear = [r for r in good.received if json.loads(r["body"])["eventType"] == "alert.clear"][0]
    assert verify_signature(secret, clear["body"], clear["headers"]["X-MaiaScore-Signature"], tolerance=300)

    # the dead endpoint was tried with growing gaps, every attempt in the delivery log
    def dead_log():
        r = admin.get(f"/v7/alerts/deliveries?integrationId={dead_op}&alertId={alert['_id']}")
        assert r.status_code == 200
        return [d for d in r.get_json()["deliveries"] if d["event"] == "alert.trigger"]
    assert wait_until(lambda: dead_log() and dead_log()[0]["status"] == states.FAILED, timeout=60)
    [logged] = dead_log()
    assert [a["statusCode"] for a in logged["attempts"]] == [503] * 4
    assert all(a["error"] == "answered 503" and "secret answer" not in json.dumps(a) for a in logged["attempts"])
    dates = [datetime.fromisoformat(a["date"].replace("Z", "+00:00")) for a in logged["attempts"]]
    gaps = [(b - a).total_seconds() for a, b in zip(dates, dates[1:])]
    assert all(gap >= 0.5 * 2 ** n - 0.01 for n, gap in enumerate(gaps))  # never before its backoff: 0.5, 1, 2 s
    assert len(set(r["headers"]["X-MaiaScore-Delivery"] for r in dead.received)) <= 2  # same notification retried

    # the good endpoint's operation reads connected, the dead one's failing
    assert admin.get(f"/v7/operations/webhooks/{good_op}").get_json()["status"] == states.OP_CONNECTED
    assert admin.get(f"/v7/operations/webhooks/{dead_op}").get_json()["status"] == states.OP_FAILING
    mails = list(Path(local_hooks.MAIL_DIR).glob("*.eml"))
    assert any("Failures: alert started" in m.read_text() for m in mails)


class NoConnections:
    """Fails the test on any outgoing connection attempt (socket connect), recording it."""

    def __init__(self, monkeypatch, allow=()):
        self.attempts = []
        real = socket.socket.connect
        tracker = self

        def connect(sock, address):
            tracker.attempts.append(address)
            if address[0] not in allow:
                raise AssertionError(f"connection attempted to {address}")
            return real(sock, address)
        monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.mark.parametrize("target", ["http://127.0.0.1:9/", "http://169.254.169.254/latest/meta-data/",
                                    "http://10.0.0.1/hook", "http://[::1]/", "http://[::ffff:10.0.0.1]/",
                                    "http://0.0.0.0/", "http://localhost/"])
def test_refused_targets_never_connect(admin, monkeypatch, cfg, target):
    cfg.WEBHOOK_ALLOWED_HOSTS = "*"
    watch = NoConnections(monkeypatch)
    r = admin.post("/v7/connectors/generic", json={"type": "generic", "name": "x", "target": target})
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert "WEBHOOK_ALLOWED_HOSTS" in r.get_json()["detail"]
    assert watch.attempts == []
    assert admin.get("/v7/connectors/generic").get_json()["items"] == []


def test_listed_loopback_is_allowed_and_hosts_outside_the_list_are_refused(admin, cfg):
    cfg.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1:8080 *.example.com"
    assert admin.post("/v7/connectors/generic", json={"type": "generic", "name": "x",
                                                      "target": "http://127.0.0.1:8080/"}).status_code == 201
    r = admin.post("/v7/connectors/generic", json={"type": "generic", "name": "x", "target": "http://127.0.0.1:8081/"})
    assert r.status_code == 400
    for bad in ("ftp://127.0.0.1:8080/", "http://user:pw@127.0.0.1:8080/", "not a url"):
        assert admin.post("/v7/connectors/generic", json={"type": "generic", "name": "x",
                                                          "target": bad}).status_code == 400


def _delivery(db, admin, connector_id, operation_id):
    doc = {"_id": "a-1:alert.trigger:op", "aid": admin.aid, "alertId": "a-1", "ruleId": "1",
           "event": states.EVENT_TRIGGER, "kind": "webhook", "channel": connector_id, "connectorId": connector_id,
           "operationId": operation_id, "status": states.PENDING, "attempts": [], "dueAt": utcnow(),
           "leaseUntil": evaluation.NEVER, "created_at": utcnow(), "payload": json.dumps({"eventType": "x"})}
    db.alert_deliveries.insert_one(doc)
    return doc


def test_a_redirect_to_a_refused_address_is_not_followed(admin, db, cfg, monkeypatch, receivers):
    cfg.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1"
    receiver = receivers(status=302, location="http://169.254.169.254/latest/meta-data/")
    secret, operation_id = hook(admin, receiver, "redirecting")
    connector_id = db.alert_webhook_operations.find_one({"_id": operation_id})["connectorId"]
    watch = NoConnections(monkeypatch, allow=("127.0.0.1",))
    with_app = admin.client.application.app_context()
    with with_app:
        assert delivery.attempt(_delivery(db, admin, connector_id, operation_id)) is False
    assert [a[0] for a in watch.attempts] == ["127.0.0.1"] and len(receiver.received) == 1
    [logged] = admin.get("/v7/alerts/deliveries").get_json()["deliveries"]
    assert logged["attempts"][0]["statusCode"] == 302
    assert logged["attempts"][0]["error"] == "redirects are not followed"
    assert "secret answer" not in json.dumps(logged) and "169.254" not in json.dumps(logged)


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_delivery(admin, db, cfg, monkeypatch, receivers):
    cfg.WEBHOOK_ALLOWED_HOSTS = "hooks.example.com 127.0.0.1"
    receiver = receivers()
    port = receiver.httpd.server_port
    answers = {"hooks.example.com": "127.0.0.1"}
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    r = admin.post("/v7/connectors/generic", json={"type": "generic", "name": "x",
                                                   "target": f"http://hooks.example.com:{port}/"})
    assert r.status_code == 201
    connector_id = r.get_json()["id"]
    operation_id = admin.post("/v7/operations/webhooks", json={"name": "x", "category": "alerts",
                                                               "status": "pending"}).get_json()["id"]
    admin.put(f"/v7/operations/webhooks/{operation_id}/connectors", json=[connector_id])
    answers["hooks.example.com"] = "10.0.0.1"  # the name now points inside
    watch = NoConnections(monkeypatch)
    with admin.client.application.app_context():
        assert delivery.attempt(_delivery(db, admin, connector_id, operation_id)) is False
    assert watch.attempts == [] and receiver.received == []
    [logged] = admin.get("/v7/alerts/deliveries").get_json()["deliveries"]
    assert logged["attempts"][0]["statusCode"] is None
    assert logged["attempts"][0]["error"].startswith("target refused")


def test_one_dead_endpoint_does_not_hold_another_groups_notifications(make_actor, db, cfg, monkeypatch, receivers):
    """A channel's job stops at its first failure: the blackhole costs one timeout, the other group's
    notification goes out in its own job."""
    cfg.WEBHOOK_ALLOWED_HOSTS = "127.0.0.1"
    cfg.WEBHOOK_TIMEOUT_SECONDS = 0.5
    slow_group, fast_group = make_actor(), make_actor()
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)  # accepts nothing: connections hang until the timeout
    try:
        class Hole:
            url = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
        _, slow_op = hook(slow_group, Hole, "hole")
        fast = receivers()
        _, fast_op = hook(fast_group, fast, "fast")
        slow_connector = db.alert_webhook_operations.find_one({"_id": slow_op})["connectorId"]
        fast_connector = db.alert_webhook_operations.find_one({"_id": fast_op})["connectorId"]
        doc = _delivery(db, slow_group, slow_connector, slow_op)
        db.alert_deliveries.insert_many([{**doc, "_id": f"slow-{n}"} for n in range(4)])
        db.alert_deliveries.insert_one({**doc, "_id": "fast", "aid": fast_group.aid, "channel": fast_connector,
                                        "connectorId": fast_connector, "operationId": fast_op})
        with slow_group.client.application.app_context():
            delivery.run_channel(slow_connector)
            slow_docs = list(db.alert_deliveries.find({"channel": slow_connector}))
            assert sum(len(d["attempts"]) for d in slow_docs) == 1  # stopped at the first failure
            delivery.run_channel(fast_connector)
        assert len(fast.received) == 1
    finally:
        blackhole.close()
