"""Nothing accepted is lost and nothing is scored twice: a worker SIGKILLed mid-batch or mid-drain, Redis
down at POST time, and reports stranded between their insert and their batch document or without a drain."""
import os
import signal
from datetime import timedelta

import pytest
import redis
from model_fixtures import german_rows, install_model

from conftest import wait_until, worker_logs
from maiascore.queue import queue_name


@pytest.fixture
def fast_recovery(monkeypatch):
    """Workers started after this sweep every second (their leases are TestConfig's 10 s)."""
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "1")


def states(db):
    """What a failing assertion shows: reports and batches by status."""
    count = {}
    for name in ("score_reports", "score_batches"):
        for doc in db[name].aggregate([{"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
            count[f"{name}.{doc['_id']}"] = doc["n"]
    return count


def test_worker_killed_mid_batch_then_restarted_finishes_every_report_exactly_once(
        admin, db, cfg, live_worker, fast_recovery, tmp_path):
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
    assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == 2000, 120), (
        states(db), list(db.score_batches.find({}, {"status": 1, "attempts": 1, "leaseUntil": 1})),
        worker_logs(tmp_path))
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 2000
    assert db.score_batches.find_one({"_id": claimed["_id"]})["attempts"] >= 2  # re-claimed after the lease
    assert db.score_batches.count_documents({"status": "done"}) == 4


def test_worker_killed_mid_drain_then_restarted_scores_every_single_report_exactly_once(
        admin, db, cfg, live_worker, fast_recovery, tmp_path):
    install_model(admin.aid)
    total = 2001
    for attempt in range(3):  # the kill must land while the drain still has reports to read
        db.score_reports.delete_many({})
        redis.Redis.from_url(cfg.REDIS_URL).flushdb()
        # 2,000 reports queued as single POSTs leave them (stored through one bulk POST, for speed) ...
        body = [{"referenceId": f"d{i}", "features": row} for i, row in enumerate(german_rows(total - 1))]
        assert admin.post("/reports", json=body).get_json()["accepted"] == total - 1
        db.score_reports.update_many({}, {"$set": {"lane": "single"}})
        db.score_batches.delete_many({})
        redis.Redis.from_url(cfg.REDIS_URL).flushdb()
        # ... and one real single POST, which requests the group's drain
        assert admin.post("/reports", json={"referenceId": "last", "features": german_rows(1)[0]}).status_code == 200
        conn = redis.Redis.from_url(cfg.REDIS_URL)
        assert conn.llen("rq:queue:" + queue_name("singles")) == 1, sorted(conn.keys("maiascore:*"))
        doomed = live_worker(queues=("scores",), scheduler=False)
        assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}), 60, interval=0.005)
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
        if db.score_reports.count_documents({"status": "processed"}) < total:
            break
    assert db.score_reports.count_documents({"status": "processed"}) < total, "could not kill a drain midway"

    live_worker(queues=("scores",))  # its sweep requests a drain once the dead one's lease has expired
    assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == total, 120), (
        states(db), worker_logs(tmp_path))
    assert db.score_reports.count_documents({"scoringRuns": 1}) == total


def test_redis_down_at_post_time_loses_nothing(admin, db, cfg, live_worker, redis_outage, fast_recovery):
    install_model(admin.aid)
    redis_outage.stop()
    single = admin.post("/reports", json={"uuid": "during-outage", "features": german_rows(1)[0]})
    assert single.status_code == 200 and single.get_json()["status"] == "queued"
    waited = admin.post("/reports?wait=0.5", json={"features": german_rows(1)[0]})
    assert waited.status_code == 200 and waited.get_json()["status"] == "processed"  # scored in the request
    cfg.WEB_SCORING = False
    handed = admin.post("/reports?wait=0.5", json={"features": german_rows(1)[0]})
    assert handed.status_code == 200 and handed.get_json()["status"] == "queued"
    bulk = admin.post("/reports", json=[{"features": row} for row in german_rows(30)])
    assert bulk.status_code == 200 and bulk.get_json()["accepted"] == 30
    assert admin.post("/reports", json={"uuid": "during-outage"}).get_json()["id"] == single.get_json()["id"]
    assert db.score_reports.count_documents({"status": "queued"}) == 32
    assert db.score_reports.count_documents({"lane": "single"}) == 3

    redis_outage.restart()
    assert redis.Redis.from_url(cfg.REDIS_URL).llen("rq:queue:scores") == 0
    live_worker(queues=("scores",))
    assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == 33, 60)
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 33


def test_sweep_adopts_reports_whose_batch_is_missing_done_or_abandoned_or_whose_drain_is_gone(
        admin, db, cfg, run_worker):
    from maiascore.connections import utcnow

    install_model(admin.aid)
    cfg.SCORING_BATCH_SIZE = 1
    result = admin.post("/reports", json=[{"features": row} for row in german_rows(3)]).get_json()
    single = admin.post("/reports", json={"features": german_rows(1)[0]}).get_json()
    redis.Redis.from_url(cfg.REDIS_URL).flushdb()  # their jobs and the drain's flag are gone, as after a restart
    reports = list(db.score_reports.find({"lane": "batch"}).sort("created_at", 1))
    past = utcnow() - timedelta(hours=1)
    db.score_reports.update_many({}, {"$set": {"updated_at": past}})
    db.score_batches.delete_one({"_id": reports[0]["batch"]})  # crash between the two inserts
    db.score_batches.update_one({"_id": reports[1]["batch"]}, {"$set": {"status": "done"}})
    db.score_batches.update_one({"_id": reports[2]["batch"]},  # its worker died holding it
                                {"$set": {"status": "processing", "leaseUntil": past, "updated_at": past}})

    run_worker(queues=("scores",))  # sweeps on start, then works the jobs the sweep enqueued
    for report_id in [entry["id"] for entry in result["reports"]] + [single["id"]]:
        assert admin.get(f"/reports/{report_id}").get_json()["status"] == "processed"
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 4


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


def test_a_waiting_post_whose_hand_off_no_drain_takes_stores_its_report_and_it_is_scored_once(admin, db, cfg,
                                                                                               run_worker):
    """No worker runs (and the web process does not score: WEB_SCORING off): after WAIT_HANDOFF_SECONDS the
    request stores the report itself (queued) and answers with it; a drain later scores the stored report
    once and drops the stale hand-off."""
    from maiascore.reports import single_lane

    install_model(admin.aid)
    cfg.WAIT_HANDOFF_SECONDS = 0.2
    cfg.WEB_SCORING = False
    waited = admin.post("/reports?wait=0.5", json={"uuid": "handed", "features": german_rows(1)[0]})
    assert waited.status_code == 200 and waited.get_json()["status"] == "queued"
    assert admin.get(f"/reports/{waited.get_json()['id']}").get_json()["status"] == "queued"
    assert redis.Redis.from_url(cfg.REDIS_URL).llen(single_lane.handoff_key(admin.aid)) == 1  # still handed off

    run_worker(queues=("scores",))
    assert db.score_reports.count_documents({"uuid": "handed"}) == 1
    assert admin.get(f"/reports/{waited.get_json()['id']}").get_json()["status"] == "processed"
    assert db.score_reports.find_one({"uuid": "handed"})["scoringRuns"] == 1
    assert redis.Redis.from_url(cfg.REDIS_URL).llen(single_lane.handoff_key(admin.aid)) == 0


def test_a_hand_off_taken_by_a_worker_that_died_is_stored_by_its_request(admin, db, cfg, app):
    """The drain took the report off the list and died before storing it: the request stores it."""
    import threading

    from maiascore.reports import single_lane

    cfg.WAIT_HANDOFF_SECONDS = 0.5
    conn = redis.Redis.from_url(cfg.REDIS_URL)
    taken = []

    def dying_drain():
        assert wait_until(lambda: conn.llen(single_lane.handoff_key(admin.aid)) == 1, 10, interval=0.005)
        taken.append(conn.lpop(single_lane.handoff_key(admin.aid)))

    thief = threading.Thread(target=dying_drain)
    thief.start()
    waited = admin.post("/reports?wait=1", json={"referenceId": "orphan", "features": german_rows(1)[0]})
    thief.join()
    assert taken and taken[0] is not None
    assert waited.status_code == 200 and waited.get_json()["status"] == "queued"
    stored = db.score_reports.find_one({"referenceId": "orphan"})
    assert str(stored["_id"]) == waited.get_json()["id"] and stored["status"] == "queued"


def test_a_waiting_post_with_a_known_uuid_answers_the_stored_report_and_stores_nothing(admin, db, live_worker):
    install_model(admin.aid)
    live_worker(queues=("scores",))
    first = admin.post("/reports?wait=20", json={"uuid": "twice", "features": german_rows(1)[0]}).get_json()
    assert first["status"] == "processed"
    again = admin.post("/reports?wait=20", json={"uuid": "twice", "features": german_rows(2)[1]})
    assert again.status_code == 200 and again.get_json() == first
    assert db.score_reports.count_documents({"uuid": "twice"}) == 1
