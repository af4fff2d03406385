"""`make run`'s stack end to end: embedded MongoDB, gunicorn, the workers, the admin, the README's first
example; its state file for commands in another shell; a killed worker restarted; nothing left after stop.

One stack for the module (starting one is the expensive part); the tests run in file order and the
last one stops it.
"""
import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families
import redis
from pymongo import MongoClient
from rq import Worker

from conftest import wait_until
from maiascore.devstack import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
MAIASCORE = str(Path(sys.executable).with_name("maiascore"))


def http(method, url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers, response.read()


class Stack:
    def __init__(self, proc, port, cwd, mark, log_path, redis_url):
        self.proc, self.port, self.cwd, self.mark, self.log_path = proc, port, cwd, mark, log_path
        self.base = f"http://127.0.0.1:{port}"
        self.redis_url = redis_url

    def output(self):
        return self.log_path.read_text()

    def processes(self):
        """Every live process the stack started, however deep: they all carry its mark in their environment."""
        found = []
        for proc in psutil.process_iter():
            try:
                if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get("STACK_TEST_MARK") == self.mark:
                    found.append(proc)
            except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
                pass
        return found

    def child(self, word):
        """A direct child of the launcher whose command line mentions ``word``."""
        for proc in self.processes():
            try:
                if proc.ppid() == self.proc.pid and word in " ".join(proc.cmdline()):
                    return proc
            except psutil.NoSuchProcess:
                pass
        return None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # Ctrl-C
            self.proc.wait(90)


def gone(proc):
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("stack")
    port = free_port()
    mark = uuid.uuid4().hex
    redis_url = servers["redis_url"].rsplit("/", 1)[0] + "/1"  # the tests' fixtures flush db 0
    env = {k: v for k, v in os.environ.items()
           if k not in ("MONGO_URI", "MONGO_DB_NAME", "MAIASCORE_TESTING", "HOST", "VAR_DIR")}
    env.update(PORT=str(port), REDIS_URL=redis_url, WEB_CONCURRENCY="1", PYTHONPATH=str(ROOT),
               MAIASCORE_ADMIN_EMAIL="admin@example.com", MAIASCORE_ADMIN_PASSWORD="maiascore-admin",
               STACK_TEST_MARK=mark)
    log_path = cwd / "up.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([MAIASCORE, "up"], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    handle = Stack(proc, port, cwd, mark, log_path, redis_url)
    try:
        wait_for_port("127.0.0.1", port, 120, proc)
        yield handle
    finally:
        handle.stop()
        for leftover in handle.processes():
            leftover.kill()


def test_up_starts_everything_and_the_readme_example_works(stack):
    base = stack.base
    status, _, body = http("POST", f"{base}/auth/local",
                           json.dumps({"identifier": "admin@example.com", "password": "maiascore-admin"}).encode(),
                           {"content-type": "application/json"})
    assert status == 200
    token = json.loads(body)["jwt"]
    status, _, body = http("GET", f"{base}/users/me", headers={"Authorization": f"Bearer {token}"})
    me = json.loads(body)
    assert {k: me[k] for k in ("id", "username", "email", "provider", "confirmed", "blocked", "role", "aid")} == {
        "id": 1, "username": "admin", "email": "admin@example.com", "provider": "local", "confirmed": True,
        "blocked": False, "role": {"id": 1, "name": "Account Admin", "type": "account_admin",
                                   "description": me["role"]["description"]}, "aid": 1}
    assert "Manage Users" in me["permissions"]
    status, headers, body = http("GET", f"{base}/users/me",
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/xml"})
    assert headers["Content-Type"].startswith("application/xml")
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<item><id>1</id><username>admin</username>')
    status, _, body = http("GET", f"{base}/docs")
    assert status == 200 and b"swagger" in body.lower()
    assert (stack.cwd / "var" / "mongo").is_dir()
    output = stack.output()
    assert f"API on {base}" in output and f"console: {base}/app" in output


def _json(method, url, token, body=None):
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    status, _, raw = http(method, url, json.dumps(body).encode() if body is not None else None, headers)
    return status, json.loads(raw)


def test_metrics_add_up_every_web_and_worker_process(stack):
    base = stack.base
    _, _, body = http("POST", f"{base}/auth/local",
                      json.dumps({"identifier": "admin@example.com", "password": "maiascore-admin"}).encode(),
                      {"content-type": "application/json"})
    token = json.loads(body)["jwt"]
    trained = wait_until(lambda: _json("GET", f"{base}/trainings?uuid=demo-german-credit&status=succeeded",
                                       token)[1], 240)
    assert trained, "the demo training did not succeed"
    status, report = _json("POST", f"{base}/reports?wait=20", token, {"features": {"age": 41, "duration": 12}})
    assert status == 200 and report["status"] == "processed", report

    _, headers, raw = http("GET", f"{base}/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = {}
    for family in text_string_to_metric_families(raw.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    by_name = lambda name: [(dict(labels), v) for (n, labels), v in found.items() if n == name]  # noqa: E731
    assert ({"outcome": "succeeded"}, 1.0) in by_name("maiascore_trainings_total")  # the training worker's
    assert sum(v for _, v in by_name("maiascore_reports_scored_total")) >= 1  # the scoring worker's
    assert any(labels == {"route": "/reports", "method": "POST", "status": "200"} and v >= 1
               for labels, v in by_name("maiascore_http_requests_total"))  # gunicorn's worker's
    pids = {path.stem.rsplit("_", 1)[-1] for path in (stack.cwd / "var" / "metrics").glob("*.db")}
    assert len(pids) >= 3, pids


def test_the_api_listens_on_loopback_only_with_gevent_workers(stack):
    gunicorn = stack.child("gunicorn")
    listening = {conn.laddr for conn in gunicorn.net_connections(kind="tcp") if conn.status == psutil.CONN_LISTEN}
    assert listening == {("127.0.0.1", stack.port)}
    assert "gevent" in gunicorn.cmdline()
    control = str(stack.cwd / "var" / "gunicorn.ctl")  # its own, not the user's ~/.gunicorn/gunicorn.ctl
    assert wait_until(lambda: control in {conn.laddr for conn in gunicorn.net_connections(kind="unix")}, 30)


def test_a_command_in_another_shell_finds_the_stacks_database(stack):
    state = json.loads((stack.cwd / "var" / "stack.json").read_text())
    assert state["pid"] == stack.proc.pid and state["api"] == stack.base
    assert state["redis_prefix"] == "maiascore"  # `maiascore train` here queues where its workers listen
    env = {k: v for k, v in os.environ.items() if k not in ("MONGO_URI", "MONGO_DB_NAME", "MAIASCORE_TESTING",
                                                            "REDIS_URL", "VAR_DIR")}
    env.update(PYTHONPATH=str(ROOT))
    result = subprocess.run([MAIASCORE, "create-group", "From another shell"], cwd=stack.cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    with MongoClient(state["mongo_uri"]) as client:
        assert client["maiascore"].account_groups.find_one({"name": "From another shell"}) is not None


def test_a_killed_worker_is_restarted_and_the_api_keeps_answering(stack):
    worker = stack.child("maiascore.workers.scoring")
    assert worker is not None
    scheduler = wait_until(lambda: next(iter(worker.children()), None), 60)
    assert scheduler is not None, "the scoring worker never forked its scheduler"

    worker.kill()  # SIGKILL, as the OOM killer does
    replacement = wait_until(lambda: (p := stack.child("maiascore.workers.scoring")) and p.pid != worker.pid and p,
                             60)
    assert replacement, stack.output()[-3000:]
    assert f"scoring worker (rq) (pid {worker.pid}) exited with -9; restarting it" in stack.output()
    assert wait_until(lambda: gone(scheduler), 30), "the dead worker's scheduler outlived it"
    connection = redis.Redis.from_url(stack.redis_url)
    assert wait_until(lambda: any(w.pid == replacement.pid for w in Worker.all(connection=connection)), 60)
    status, _, _ = http("GET", f"{stack.base}/healthz")
    assert status == 200
    assert stack.proc.poll() is None


def test_stop_ends_every_process_it_started(stack):
    assert len(stack.processes()) >= 5  # SecantusDB, gunicorn master and worker, two rq workers (+ scheduler)
    stack.stop()
    assert stack.proc.returncode == 0
    assert wait_until(lambda: not stack.processes(), 15), [p.cmdline() for p in stack.processes()]
    assert not (stack.cwd / "var" / "stack.json").exists()
    output = stack.output()
    for name in ("api (gunicorn)", "scoring worker (rq)", "training worker (rq)", "mongodb (SecantusDB)"):
        assert f"stopped {name}" in output
