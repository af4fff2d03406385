"""Nothing accepted is lost and nothing is scored twice: a worker SIGKILLed mid-batch, Redis down
at POST time, and reports stranded between their insert and their batch document."""
import os
import signal
from datetime import timedelta
from urllib.parse import urlparse

import pytest
import redis
from model_fixtures import german_rows, install_model

from conftest import wait_until
from maiascore import devstack


@pytest.fixture
def fast_recovery(monkeypatch):
    """Workers started after this sweep every second and hold a batch lease for 3 s."""
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "1")
    monkeypatch.setenv("SCORING_LEASE_SECONDS", "3")


@pytest.fixture
def redis_outage(servers):
    """Stops the session's redis-server and starts a new one on the same port; the session's handle
    is pointed at the running one so later tests and the session teardown see a live server."""
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


def test_worker_killed_mid_batch_then_restarted_finishes_every_report_exactly_once(
        admin, db, cfg, live_worker, fast_recovery):
    install_model(admin.aid)
    cfg.SCORING_BATCH_SIZE = 500
    for attempt in range(3):  # the kill must land while a batch is claimed; retry if a batch just ended
        db.score_reports.delete_many({})
        db.score_batches.delete_many({})
        redis.Redis.from_url(cfg.REDIS_URL).flushdb()  # the jobs of an attempt that came too late
        body = [{"referenceId": f"k{i}", "features": row} for i, row in enumerate(german_rows(2000))]
        assert admin.post("/reports", json=body).get_json()["accepted"] == 2000
        doomed = live_worker(queues=("scores",), scheduler=False)
        claimed = wait_until(lambda: db.score_batches.find_one({"status": "processing"}), 60, interval=0.005)
        assert claimed, "the worker never claimed a batch"
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
        interrupted = db.score_batches.find_one({"_id": claimed["_id"]})
        if interrupted["status"] == "processing":
            break
    assert interrupted["status"] == "processing", "could not kill a worker in the middle of a batch"
    assert db.score_reports.count_documents({"status": "processed"}) < 2000

    live_worker(queues=("scores",))
    assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == 2000, 120)
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 2000
    assert db.score_batches.find_one({"_id": claimed["_id"]})["attempts"] >= 2  # re-claimed after the lease
    assert db.score_batches.count_documents({"status": "done"}) == 4


def test_redis_down_at_post_time_loses_nothing(admin, db, cfg, live_worker, redis_outage, fast_recovery):
    install_model(admin.aid)
    redis_outage.stop()
    single = admin.post("/reports", json={"uuid": "during-outage", "features": german_rows(1)[0]})
    assert single.status_code == 200 and single.get_json()["status"] == "queued"
    waited = admin.post("/reports?wait=0.5", json={"features": german_rows(1)[0]})
    assert waited.status_code == 200 and waited.get_json()["status"] == "queued"
    bulk = admin.post("/reports", json=[{"features": row} for row in german_rows(30)])
    assert bulk.status_code == 200 and bulk.get_json()["accepted"] == 30
    assert admin.post("/reports", json={"uuid": "during-outage"}).get_json()["id"] == single.get_json()["id"]
    assert db.score_reports.count_documents({"status": "queued"}) == 32

    redis_outage.restart()
    assert redis.Redis.from_url(cfg.REDIS_URL).llen("rq:queue:scores") == 0
    live_worker(queues=("scores",))
    assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == 32, 60)
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 32


def test_sweep_adopts_reports_whose_batch_is_missing_done_or_abandoned(admin, db, cfg, run_worker):
    from maiascore.connections import utcnow

    install_model(admin.aid)
    ids = [admin.post("/reports", json={"features": row}).get_json()["id"] for row in german_rows(3)]
    redis.Redis.from_url(cfg.REDIS_URL).flushdb()  # their jobs are gone, as after a Redis restart
    reports = list(db.score_reports.find().sort("created_at", 1))
    past = utcnow() - timedelta(hours=1)
    db.score_reports.update_many({}, {"$set": {"updated_at": past}})
    db.score_batches.delete_one({"_id": reports[0]["batch"]})  # crash between the two inserts
    db.score_batches.update_one({"_id": reports[1]["batch"]}, {"$set": {"status": "done"}})
    db.score_batches.update_one({"_id": reports[2]["batch"]},  # its worker died holding it
                                {"$set": {"status": "processing", "leaseUntil": past, "updated_at": past}})

    run_worker(queues=("scores",))  # sweeps on start, then works the jobs the sweep enqueued
    for report_id in ids:
        assert admin.get(f"/reports/{report_id}").get_json()["status"] == "processed"
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 3


def test_reports_still_waiting_under_an_active_model_are_released_by_the_sweep(admin, db, cfg, run_worker):
    from maiascore.connections import utcnow

    report = admin.post("/reports", json={"features": german_rows(1)[0]}).get_json()
    run_worker(queues=("scores",))
    assert admin.get(f"/reports/{report['id']}").get_json()["status"] == "waiting_for_model"
    install_model(admin.aid)
    # As if the release on activation had failed: the report is back to waiting, its job gone.
    db.score_reports.update_many({}, {"$set": {"status": "waiting_for_model",
                                               "updated_at": utcnow() - timedelta(hours=1)}})
    db.score_batches.update_many({}, {"$set": {"status": "done"}})
    redis.Redis.from_url(cfg.REDIS_URL).flushdb()
    run_worker(queues=("scores",))  # its start-up sweep re-queues them, then it scores them
    assert admin.get(f"/reports/{report['id']}").get_json()["status"] == "processed"
