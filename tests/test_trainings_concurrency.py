"""Trainings cannot starve scoring or each other: a report posted while a worst-case training runs is
scored by the scoring worker meanwhile, and a group runs at most TRAININGS_PER_GROUP trainings at once
while the others wait queued (their job re-enqueued, never lost) and other groups' trainings run."""
from bson import ObjectId
from conftest import wait_until, worker_logs
from rq.job import Job

from maiascore.connections import get_redis
from maiascore.modeling import load_sample
from test_trainings_jobs import SLOW_PARAMS, launch, training

FEATURES = {k: v for k, v in load_sample("german-credit").rows[0].items() if k != "creditability"}


def status(db, training_id):
    return db.trainings.find_one({"_id": ObjectId(training_id)})["status"]


def running(db, training_id):
    doc = db.trainings.find_one({"_id": ObjectId(training_id)})
    return doc["status"] == "running" and doc["progress"] > 0


def test_a_report_is_scored_while_a_worst_case_training_runs(admin, run_worker, live_worker, db, tmp_path):
    launch(admin, {"dataset": "german-credit", "params": {"num_boost_round": 30}})
    run_worker(queues=("trainings",))
    assert admin.get("/models/active").status_code == 200

    slow = launch(admin, {"dataset": "german-credit", "params": SLOW_PARAMS})  # within the default bounds
    live_worker(queues=("trainings",), scheduler=False)
    assert wait_until(lambda: running(db, slow), timeout=60), worker_logs(tmp_path)
    live_worker(queues=("scores",), scheduler=False)

    r = admin.post("/reports", json={"referenceId": "during-training", "features": FEATURES})
    assert r.status_code == 200, r.get_json()
    scored = wait_until(lambda: db.score_reports.find_one({"referenceId": "during-training",
                                                           "status": "processed"}), timeout=60)
    assert scored, worker_logs(tmp_path)
    assert status(db, slow) == "running"  # the report did not wait for the training
    assert scored["scoreVersion"] == "1" and 300 <= scored["score"] <= 850
    admin.delete(f"/trainings/{slow}")


def test_a_group_runs_one_training_at_a_time_and_others_are_not_held(admin, make_actor, live_worker, db,
                                                                      monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINING_SLOT_RETRY_SECONDS", "1")
    first = launch(admin, {"dataset": "german-credit", "params": SLOW_PARAMS})
    second = launch(admin, {"dataset": "german-credit", "params": SLOW_PARAMS})
    live_worker(queues=("trainings",), scheduler=True)
    live_worker(queues=("trainings",), scheduler=False)
    assert wait_until(lambda: running(db, first) or running(db, second), timeout=60), worker_logs(tmp_path)
    holder, waiting = (first, second) if status(db, first) == "running" else (second, first)

    def deferred_twice():
        return (Job.fetch(f"train-{waiting}", connection=get_redis()).number_of_retries or 0) >= 2

    assert wait_until(deferred_twice, timeout=60), worker_logs(tmp_path)  # a free worker tried, and waits
    assert status(db, waiting) == "queued" and status(db, holder) == "running"

    other = make_actor("Account Admin")
    elsewhere = launch(other, {"dataset": "german-credit", "params": SLOW_PARAMS})
    assert wait_until(lambda: running(db, elsewhere), timeout=60), worker_logs(tmp_path)
    other.delete(f"/trainings/{elsewhere}")

    admin.delete(f"/trainings/{holder}")
    assert wait_until(lambda: running(db, waiting), timeout=60), worker_logs(tmp_path)
    admin.delete(f"/trainings/{waiting}")
    assert training(admin, holder)["status"] == "canceled"
