"""The worker process itself: a Redis outage in the middle of a job does not kill it."""
from model_fixtures import german_rows, install_model

from conftest import wait_until


def test_worker_survives_redis_going_away_while_it_finishes_a_job(admin, db, live_worker, redis_outage,
                                                                    monkeypatch):
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "1")
    install_model(admin.aid)
    worker = live_worker(queues=("scores",))
    assert admin.post("/reports", json=[{"features": row} for row in german_rows(1000)]).status_code == 200
    assert wait_until(lambda: db.score_batches.count_documents({"status": "processing"}) == 1, 60)

    redis_outage.stop()  # RQ will record the job's outcome, heartbeat and clean up against a dead Redis
    assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == 1000, 60)
    assert wait_until(lambda: worker.poll() is not None, 3) is False, "the worker quit on a Redis outage"
    redis_outage.restart()

    assert admin.post("/reports", json=[{"features": row} for row in german_rows(5)]).status_code == 200
    assert wait_until(lambda: db.score_reports.count_documents({"status": "processed"}) == 1005, 60)
    assert worker.poll() is None
    assert db.score_reports.count_documents({"scoringRuns": {"$ne": 1}}) == 0
