"""Nothing one account group does slows another, against the product's own gunicorn command line with
default settings: waits hold no thread, heavy reads are bounded in time and in how many run at once.

Assertions are about order and answers, never durations: the other groups' requests are answered
while every wait is still open."""
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis

from config import Config
from conftest import ROOT, wait_until
from maiascore import costs, devstack
from maiascore.concurrency import offload
from maiascore.launcher import gunicorn_command
from test_dashboards_data import SR, add_widget

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


# -- heavy reads -------------------------------------------------------------------------------

def seed_reports(db, aid, count):
    now = datetime.now(timezone.utc)
    db.score_reports.insert_many([{"aid": aid, "uuid": None, "referenceId": f"ref-{i:05d}", "status": "processed",
                                   "score": 300 + i % 500, "features": {}, "created_at": now, "updated_at": now,
                                   "published_at": now} for i in range(count)])


HEAVY = ("/reports?referenceId_contains=zz", "/reports?uuid_ncontains=zz&_sort=score:DESC",
         "/reports/count?referenceId_contains=zz")


@pytest.mark.parametrize("path, bound", [(path, "HEAVY_QUERY_MAX_TIME_MS") for path in HEAVY] + [
    ("/reports?_limit=10", "QUERY_MAX_TIME_MS"), ("/trainings?_limit=10", "QUERY_MAX_TIME_MS"),
    ("/reports/count?status=processed", "QUERY_MAX_TIME_MS")])
def test_a_read_past_its_time_bound_answers_503_naming_it(cfg, make_actor, db, path, bound):
    cfg.QUERY_MAX_TIME_MS = cfg.HEAVY_QUERY_MAX_TIME_MS = 1
    reader = make_actor("Read Only")
    seed_reports(db, reader.aid, 2000)
    r = reader.get(path)
    assert r.status_code == 503, r.get_json()
    assert set(r.get_json()) == {"code", "message"} and r.get_json()["message"].startswith(
        f"The query ran longer than {bound} (1 ms)")
    cfg.QUERY_MAX_TIME_MS = cfg.HEAVY_QUERY_MAX_TIME_MS = 60_000
    if bound == "QUERY_MAX_TIME_MS":  # the bound is the request's own: the next one reads as usual
        assert reader.get(path).status_code == 200
    else:  # a heavy read past its bound spent the group's heavy-read minute; its indexed reads go on
        r = reader.get(path)
        assert r.status_code == 429 and "HEAVY_READ_MS_PER_MINUTE" in r.get_json()["message"]
        assert reader.get("/reports?_limit=10").status_code == 200


def test_widget_data_past_its_time_bound_answers_503_naming_it(cfg, make_actor, db):
    reader = make_actor("Account Admin")
    seed_reports(db, reader.aid, 2000)
    report_id, widget_id = add_widget(reader, {"type": "Box and Whiskers", **SR, "metric": "Score"})
    cfg.QUERY_MAX_TIME_MS = cfg.HEAVY_QUERY_MAX_TIME_MS = 1
    r = reader.post("/v6/report-snapshots/create", json={"reportId": report_id, "window": "1d"})
    assert r.status_code == 503 and r.get_json()["message"].startswith("The query ran longer than QUERY_MAX_TIME_MS ")
    for window, bound in (("1d", "QUERY_MAX_TIME_MS"), ("93d", "HEAVY_QUERY_MAX_TIME_MS")):
        r = reader.get(f"/v6/reports/{report_id}/{widget_id}", query_string={"window": window})
        assert r.status_code == 503 and r.get_json()["message"].startswith(f"The query ran longer than {bound} ")
    # The heavy one spent the group's heavy-read minute.
    cfg.QUERY_MAX_TIME_MS = cfg.HEAVY_QUERY_MAX_TIME_MS = 60_000
    r = reader.get(f"/v6/reports/{report_id}/{widget_id}", query_string={"window": "92d"})
    assert r.status_code == 429 and "HEAVY_READ_MS_PER_MINUTE" in r.get_json()["message"]
    assert reader.get(f"/v6/reports/{report_id}/{widget_id}", query_string={"window": "2d"}).status_code == 200


def test_heavy_reads_of_one_group_run_at_most_their_cap_at_once(cfg, make_actor, db):
    greedy, other = make_actor("Read Only"), make_actor("Read Only")
    held = [costs.take_slot(greedy.aid, "a heavy read in flight") for _ in range(cfg.HEAVY_QUERIES_PER_GROUP)]
    for path in HEAVY:
        r = greedy.get(path)
        assert r.status_code == 429 and "HEAVY_QUERIES_PER_GROUP" in r.get_json()["message"], path
        assert r.headers["Retry-After"]
    # The group's cheap reads, and another group's heavy ones, are not refused.
    assert greedy.get("/reports?_limit=10").status_code == 200
    assert greedy.get("/reports?_sort=created_at:ASC").status_code == 200
    assert other.get(HEAVY[0]).status_code == 200
    costs.give_back(greedy.aid, held.pop())
    assert greedy.get(HEAVY[0]).status_code == 200  # a slot came back, and the heavy read gave its own back
    assert greedy.get(HEAVY[1]).status_code == 200


def test_heavy_reads_count_their_weight_against_the_group_budget_and_no_other(cfg, make_actor, db):
    cfg.RATE_LIMIT_PER_MINUTE, cfg.HEAVY_QUERY_WEIGHT = 25, 10
    greedy, other = make_actor("Read Only"), make_actor("Read Only")
    for _ in range(2):
        assert greedy.get(HEAVY[0]).status_code == 200
    r = greedy.get(HEAVY[0])  # 2 x 10 spent: a third heavy read is over the budget of 25
    assert r.status_code == 429 and "HEAVY_QUERY_WEIGHT" in r.get_json()["message"] and r.headers["Retry-After"]
    assert greedy.get("/reports?_limit=10").status_code == 429  # the group's budget is spent, whatever the shape
    # Another group is not refused while the first is throttled.
    r = other.get("/reports?_limit=10")
    assert r.status_code == 200 and r.headers["X-Organization-Rate-Limit-Remaining"] == "24"


def test_long_widget_windows_are_heavy_reads_and_cached_per_widget_and_window(cfg, make_actor, db):
    admin = make_actor("Account Admin")
    report_id, widget_id = add_widget(admin, {"type": "Box and Whiskers", **SR, "metric": "Score"})
    url = f"/v6/reports/{report_id}/{widget_id}"
    counter = redis.Redis.from_url(cfg.REDIS_URL)

    def spent():
        return int(counter.get(costs.rate_key(admin.aid)) or 0)

    before = spent()
    assert admin.get(url, query_string={"window": "1d"}).status_code == 200
    assert spent() == before + 1  # a short window: one request
    before = spent()
    assert admin.get(url, query_string={"window": "93d"}).status_code == 200
    assert spent() == before + cfg.HEAVY_QUERY_WEIGHT
    # Within WIDGET_CACHE_SECONDS the same widget and window are served from the cache: no aggregation.
    before = spent()
    first = admin.get(url, query_string={"window": "93d"}).get_json()
    assert spent() == before + 1
    held = [costs.take_slot(admin.aid, "a heavy read in flight") for _ in range(cfg.HEAVY_QUERIES_PER_GROUP)]
    assert admin.get(url, query_string={"window": "93d"}).get_json() == first  # cached: no slot needed
    r = admin.get(url, query_string={"window": "92d"})
    assert r.status_code == 429 and "HEAVY_QUERIES_PER_GROUP" in r.get_json()["message"]
    for member in held:
        costs.give_back(admin.aid, member)


def test_a_group_whose_heavy_reads_took_their_minute_of_database_time_is_refused_more(cfg, make_actor, db):
    cfg.HEAVY_READ_MS_PER_MINUTE = 1
    greedy, other = make_actor("Read Only"), make_actor("Read Only")
    assert greedy.get(HEAVY[0]).status_code == 200  # at least a millisecond: the group's minute is spent
    r = greedy.get(HEAVY[1])
    assert r.status_code == 429 and "HEAVY_READ_MS_PER_MINUTE" in r.get_json()["message"] and r.headers["Retry-After"]
    assert greedy.get("/reports?_limit=10").status_code == 200  # cheap reads are not refused
    assert other.get(HEAVY[1]).status_code == 200  # nor another group's heavy reads


def test_under_gevent_password_hashing_runs_off_the_event_loop():
    """The gevent workers patch threading; an Argon2 hash then runs on the hub's thread pool, so the loop
    serves other requests meanwhile. Checked in a process of its own, patched as a gunicorn worker is."""
    code = ("from gevent import monkey; monkey.patch_all()\n"
            "import threading\n"
            "from maiascore.accounts.passwords import hash_password, verify_password\n"
            "from maiascore.concurrency import offload\n"
            "assert offload(threading.get_native_id) != threading.get_native_id()\n"
            "assert verify_password(hash_password('a long password'), 'a long password')\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), MAIASCORE_TESTING="1"))
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
    # Unpatched (threaded servers, the CLI, the workers) it runs in the caller's thread.
    assert offload(threading.get_native_id) == threading.get_native_id()
