"""Fixtures on real servers: a SecantusDB (MongoDB wire protocol) and a redis-server of the
session's own, a fresh database and Redis keyspace per test, and real ``rq`` worker processes."""
import base64
import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from maiascore import devstack

ROOT = Path(__file__).resolve().parent.parent
_db_counter = itertools.count(1)


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """MONGO_URI / TEST_REDIS_URL from the environment win; otherwise embedded servers start."""
    logs = tmp_path_factory.mktemp("logs")
    started = []
    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        child, mongo_uri = devstack.start_secantus(":memory:", logs / "secantus.log")
        started.append(child)
    redis_child, redis_url = devstack.start_redis(log_path=logs / "redis.log")
    started.append(redis_child)
    os.environ.update(MONGO_URI=mongo_uri, REDIS_URL=redis_url, MAIASCORE_TESTING="1")
    yield {"mongo_uri": mongo_uri, "redis_url": redis_url, "redis": redis_child, "logs": logs}
    devstack.stop_all(started)


def _forget_models():
    """This process scores waiting POSTs too: what it keeps per group belonged to the database and Redis of
    an earlier test."""
    from maiascore import costs
    from maiascore.monitoring import shadow
    from maiascore.reports import request_lane, scoring
    from maiascore.trainings import registry

    for cache in (scoring._models, shadow._baselines, shadow._schemas, shadow._models, registry._active,
                  costs._web_scoring_spent, request_lane._slow, request_lane._too_slow):
        cache.clear()


@pytest.fixture
def cfg(servers, request):
    from config import TestConfig, reset_process_settings

    name = f"t{os.getpid()}_{next(_db_counter)}"
    os.environ["MONGO_DB_NAME"] = name
    reset_process_settings()
    config = TestConfig(MONGO_URI=servers["mongo_uri"], REDIS_URL=servers["redis_url"], MONGO_DB_NAME=name,
                        JWT_SECRET_KEY="test-secret-key-that-is-long-enough-for-hs256")
    os.environ["JWT_SECRET_KEY"] = config.JWT_SECRET_KEY
    import redis as redis_lib

    redis_lib.Redis.from_url(servers["redis_url"]).flushdb()
    _forget_models()
    yield config
    from maiascore.connections import mongo_client

    mongo_client(servers["mongo_uri"]).drop_database(name)


@pytest.fixture
def app(cfg):
    from maiascore.app import create_app

    # No app context stays pushed: each request must get its own ``g``, as in production.
    return create_app(cfg)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    from maiascore.connections import get_db

    return get_db()


class Actor:
    """A user with credentials, for calling the API as them."""

    def __init__(self, client, user, jwt, password, aid):
        self.client, self.user, self.jwt, self.password, self.aid = client, user, jwt, password, aid
        self.id = user["_id"]
        self.email = user["email"]
        self.headers = {"Authorization": f"Bearer {jwt}"}

    def basic(self, token):
        raw = base64.b64encode(f"{self.email}:{token}".encode()).decode()
        return {"Authorization": f"Basic {raw}"}

    def _call(self, method, path, headers=None, **kwargs):
        merged = dict(self.headers)
        merged.update(headers or {})
        return getattr(self.client, method)(path, headers=merged, **kwargs)

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, **kw):
        return self._call("post", path, **kw)

    def put(self, path, **kw):
        return self._call("put", path, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)

    def api_token(self):
        r = self.post("/users/me/tokens", json={"name": "test"})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["token"]


@pytest.fixture
def server(app):
    """The test's app behind a real threaded HTTP server on a free port, as gunicorn's threaded workers
    serve it: for the browser, the SDKs and calls that must not share one test client."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(10)


@pytest.fixture
def make_actor(app, client):
    from maiascore.accounts.permissions import ROLE_IDS
    from maiascore.accounts.service import create_account_group, create_user
    from maiascore.auth.service import issue_jwt

    counter = itertools.count(1)

    def make(role="Account Admin", aid=None, group_name=None):
        if aid is None:
            aid = create_account_group(group_name or f"Group {next(counter)}")["_id"]
        n = next(counter)
        password = f"password-{n}-long"
        user = create_user(f"user{n}_{aid}", f"user{n}.{aid}@example.com", password,
                           [{"aid": aid, "roleId": ROLE_IDS[role]}])
        with app.app_context():
            jwt = issue_jwt(user)
        return Actor(client, user, jwt, password, aid)

    return make


@pytest.fixture
def admin(make_actor):
    return make_actor("Account Admin")


def _worker_env(cfg):
    env = dict(os.environ)
    env.update(MONGO_URI=cfg.MONGO_URI, REDIS_URL=cfg.REDIS_URL, MONGO_DB_NAME=cfg.MONGO_DB_NAME,
               MAIASCORE_TESTING="1", PYTHONPATH=str(ROOT))
    return env


def _worker_args(queues, burst=False, scheduler=False):
    """The production command line (``maiascore.queue.worker_command``), serving ``queues``."""
    from maiascore.queue import worker_command

    return worker_command("scoring", rq=str(Path(sys.executable).with_name("rq")), burst=burst, scheduler=scheduler,
                          queues=queues)


@pytest.fixture
def run_worker(cfg):
    """Runs a real ``rq worker --burst`` process until the queues are empty."""

    def run(queues=("scores", "trainings"), timeout=120):
        result = subprocess.run(_worker_args(queues, burst=True), env=_worker_env(cfg), cwd=ROOT,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    return run


@pytest.fixture
def live_worker(cfg, tmp_path):
    """Starts long-running ``rq worker --with-scheduler`` processes; each is SIGKILLed at teardown."""
    children = []

    def start(queues=("scores", "trainings"), scheduler=True):
        log = open(tmp_path / f"worker{len(children)}.log", "ab")
        proc = subprocess.Popen(_worker_args(queues, scheduler=scheduler), env=_worker_env(cfg), cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        children.append((proc, log))
        return proc

    yield start
    import signal

    for proc, log in children:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def worker_logs(tmp_path):
    """The tails of the logs of ``live_worker``'s processes: what a failing assertion shows."""
    return "\n".join(f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:]
                      for log in sorted(tmp_path.glob("worker*.log")))


def wait_until(predicate, timeout=30.0, interval=0.1):
    """Polls a condition; returns its last value (tests assert on it, never on elapsed time)."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


@pytest.fixture
def redis_outage(servers):
    """Stops the session's redis-server and starts a new one on the same port; the session's handle
    is pointed at the running one so later tests and the session teardown see a live server."""
    from urllib.parse import urlparse

    port = urlparse(servers["redis_url"]).port
    handle = servers["redis"]

    class Outage:
        def stop(self):
            handle.stop()

        def restart(self):
            child, _ = devstack.start_redis(port=port, log_path=servers["logs"] / "redis-restarted.log")
            handle.proc, handle.log = child.proc, child.log

    outage = Outage()
    yield outage
    if handle.proc.poll() is not None:
        outage.restart()
