"""Nothing one account group does slows another, against the product's own gunicorn command line with
default settings: waits hold no thread, heavy reads are bounded in time and in how many run at once.

Assertions are about order and answers, never durations: the other groups' requests are answered
while every wait is still open."""
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from config import Config
from conftest import ROOT, wait_until
from maiascore import devstack
from maiascore.launcher import gunicorn_command

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
WAIT = 30
GROUPS = 3


def call(url, actor=None, body=None, timeout=60):
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    for key, value in (actor.headers if actor else {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


@pytest.fixture
def web(cfg, tmp_path):
    """The API under ``launcher.gunicorn_command`` with the default web settings."""
    defaults = Config(require_secret_key=False)
    port = devstack.free_port()
    args = gunicorn_command(f"127.0.0.1:{port}", defaults.WEB_CONCURRENCY, defaults.WEB_WORKER_CONNECTIONS,
                            backlog=defaults.WEB_BACKLOG, keepalive=defaults.WEB_KEEPALIVE_SECONDS,
                            gunicorn=GUNICORN, access_log=None)
    env = dict(os.environ, MONGO_URI=cfg.MONGO_URI, REDIS_URL=cfg.REDIS_URL, MONGO_DB_NAME=cfg.MONGO_DB_NAME,
               JWT_SECRET_KEY=cfg.JWT_SECRET_KEY, PYTHONPATH=str(ROOT))
    child = devstack.Child(args, tmp_path / "gunicorn.log", env=env)
    try:
        devstack.wait_for_port("127.0.0.1", port, 60, child.proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        child.stop()


def _waits(cfg, aid):
    return redis.Redis.from_url(cfg.REDIS_URL).zcard(f"{cfg.REDIS_PREFIX}:waits:{aid}")


def test_three_groups_at_their_wait_caps_leave_healthz_and_a_fourth_group_answering(
        cfg, web, make_actor, live_worker):
    worker = live_worker(queues=("scores",))
    os.killpg(worker.pid, signal.SIGSTOP)  # reports stay queued: every wait lasts until the worker resumes
    cap = Config(require_secret_key=False).MAX_WAITS_PER_GROUP
    greedy = [make_actor("Regular User") for _ in range(GROUPS)]
    victim = make_actor("Read Only")
    answers, waiters = [], []
    try:
        for actor in greedy:
            status, _, report = call(f"{web}/reports", actor, {"referenceId": "parked"})
            assert status == 200 and report["status"] == "queued"
            for _ in range(cap):
                waiters.append(threading.Thread(daemon=True, target=lambda a=actor, r=report["id"]: answers.append(
                    call(f"{web}/reports/{r}?wait={WAIT}", a))))
        for thread in waiters:
            thread.start()
        wait_until(lambda: all(_waits(cfg, actor.aid) == cap for actor in greedy), timeout=60)

        # Every group is at its cap and every wait is open; the service answers everybody else.
        assert call(f"{web}/healthz", timeout=20)[0] == 200
        status, _, me = call(f"{web}/users/me", victim, timeout=20)
        assert status == 200 and me["aid"] == victim.aid
        status, _, page = call(f"{web}/reports?_limit=10", victim, timeout=20)
        assert status == 200 and page == []
        # The cap stays a per-group bound: one more wait of a greedy group is refused, naming it.
        status, _, body = call(f"{web}/reports/{report['id']}?wait={WAIT}", greedy[-1], timeout=20)
        assert status == 429 and "MAX_WAITS_PER_GROUP" in body["message"]
        assert not answers and all(thread.is_alive() for thread in waiters)
        assert all(_waits(cfg, actor.aid) == cap for actor in greedy)
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    # Resumed, the worker settles the reports (no group has a model): every wait answers with it.
    for thread in waiters:
        thread.join(WAIT + 30)
    assert len(answers) == GROUPS * cap
    assert {status for status, _, _ in answers} == {200}
    assert {body["status"] for _, _, body in answers} == {"waiting_for_model"}
