"""Trainings run by real ``rq`` worker processes: from POST to an active model, the activation
policy and rollback, running twice, scheduling, cancellation and recovery from lost workers."""
import json
import os
import signal
from datetime import datetime, timedelta, timezone

import pytest
import xgboost as xgb
from conftest import wait_until, worker_logs
from maiascore.queue import queue_name

FORM = "application/x-www-form-urlencoded"
SLOW_PARAMS = {"eta": 0.001, "num_boost_round": 5000, "early_stopping_rounds": 500, "max_depth": 16,
               "min_child_weight": 0, "max_bin": 1024}


def launch(actor, meta=None, **fields):
    body = dict(fields)
    if meta is not None:
        body["meta"] = meta
    r = actor.post("/trainings", json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["id"]


def training(actor, training_id):
    r = actor.get(f"/trainings/{training_id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def enqueue_again(app, training_id, job_id):
    from maiascore.queue import TRAININGS, enqueue
    from maiascore.trainings.jobs import run_training

    with app.app_context():
        enqueue(TRAININGS, run_training, training_id, job_id=job_id)


def test_the_seeds_python_snippet_trains_the_bundled_sample_into_the_active_model(admin, run_worker, db):
    payload = json.dumps({"uuid": "string", "accuracy": 0, "precission": 0, "mae": 0, "rmse": 0,
                          "binaryPath": "string", "version": "string",
                          "meta": json.dumps({"dataset": "german-credit"})})
    r = admin.post("/trainings", data=payload, content_type=FORM)
    assert r.status_code == 200, r.get_json()
    training_id = r.get_json()["id"]
    run_worker()

    t = training(admin, training_id)
    assert t["status"] == "succeeded", t["error"]
    assert t["progress"] == 100 and t["error"] is None
    assert t["startedAt"] <= t["finishedAt"]
    metrics = json.loads(t["meta"])["metrics"]
    assert metrics["auc"] >= 0.75
    assert 0.6 <= t["accuracy"] <= 1 and t["accuracy"] == metrics["accuracy"]
    assert t["precission"] == t["precision"] == metrics["precision"] and 0.6 <= t["precission"] <= 1
    assert 0 < t["mae"] <= t["rmse"] < 0.5
    assert 0 < metrics["logloss"] < 0.69  # better than a coin
    confusion = metrics["confusion"]
    assert sum(confusion.values()) == metrics["rows"]["test"] == 200
    assert metrics["rows"] == {"train": 640, "validation": 160, "test": 200}
    assert metrics["featureImportance"][0]["feature"] == "status_of_existing_checking_account"
    assert all(item["gain"] > 0 for item in metrics["featureImportance"])

    model_doc = db.models.find_one({"aid": admin.aid})
    assert t["version"] == "1" and t["binaryPath"] == f"gridfs://models/{model_doc['gridfs_id']}"
    assert t["active"] is True

    active = admin.get("/models/active").get_json()
    assert active["version"] == "1" and active["training"] == training_id and active["active"] is True
    assert active["metrics"]["auc"] == metrics["auc"]
    features = {f["name"]: f for f in active["schema"]["features"]}
    assert len(features) == 20 and "creditability" not in features
    assert features["duration_in_month"]["type"] == "numeric" and features["duration_in_month"]["min"] == 4
    assert "no checking account" in features["status_of_existing_checking_account"]["categories"]

    r = admin.get(f"/trainings/{training_id}/model")
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    assert r.headers["X-Model-Version"] == "1"
    booster = xgb.Booster()
    booster.load_model(bytearray(r.data))
    assert booster.num_boosted_rounds() == metrics["bestIteration"] + 1


def test_activation_policy_reproducibility_rollback_and_cancel(app, admin, make_actor, run_worker, db, monkeypatch):
    first = launch(admin, {"dataset": "german-credit", "seed": 11})
    same_again = launch(admin, {"dataset": "german-credit", "seed": 11, "activate": "never"})
    worse = launch(admin, {"dataset": "german-credit", "seed": 11,
                           "params": {"num_boost_round": 1, "max_depth": 1}})
    canceled = launch(admin, {"dataset": "german-credit"})
    assert admin.delete(f"/trainings/{canceled}").get_json()["status"] == "canceled"
    run_worker()

    a, b, c = (training(admin, i) for i in (first, same_again, worse))
    assert [a["status"], b["status"], c["status"]] == ["succeeded"] * 3
    assert training(admin, canceled)["status"] == "canceled"
    assert db.models.count_documents({"aid": admin.aid}) == 3
    # same data, parameters and seed: the same model
    assert a["meta"]["metrics"] == b["meta"]["metrics"]
    assert (a["version"], b["version"], c["version"]) == ("1", "2", "3")
    assert c["meta"]["metrics"]["auc"] < a["meta"]["metrics"]["auc"]
    # first success activates itself; "never" and a worse "if-better" leave it active
    assert admin.get("/models/active").get_json()["training"] == first
    assert [m["version"] for m in admin.get("/models").get_json()] == ["3", "2", "1"]

    released = []
    monkeypatch.setattr("maiascore.reports.batch_lane.release_waiting_reports", released.append, raising=False)
    r = admin.post(f"/trainings/{same_again}/activate")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == "2" and r.get_json()["active"] is True
    assert released == [admin.aid]
    assert admin.get("/models/active").get_json()["training"] == same_again
    assert db.models.count_documents({"aid": admin.aid, "active": True}) == 1
    assert training(admin, first)["active"] is False and training(admin, same_again)["active"] is True

    viewer = make_actor("Regular User", aid=admin.aid)
    assert viewer.post(f"/trainings/{first}/activate").status_code == 403
    assert viewer.get(f"/trainings/{first}/model").status_code == 200
    stranger = make_actor("Account Admin")
    assert stranger.get("/models/active").status_code == 404
    assert stranger.post(f"/trainings/{first}/activate").status_code == 404
    assert stranger.get(f"/trainings/{first}/model").status_code == 404

    r = admin.delete(f"/trainings/{same_again}")
    assert r.status_code == 409 and "active model" in r.get_json()["message"]
    assert admin.delete(f"/trainings/{first}").status_code == 200
    assert admin.get(f"/trainings/{first}").status_code == 404
    assert db.models.count_documents({"aid": admin.aid}) == 3  # a deleted training keeps its model
    # rolling back to the deleted training's model
    r = admin.post(f"/trainings/{first}/activate")
    assert r.status_code == 200 and r.get_json()["version"] == "1"
    assert admin.get("/models/active").get_json()["version"] == "1"


def test_the_job_run_twice_gives_one_model(app, admin, run_worker, db):
    training_id = launch(admin, {"dataset": "german-credit"})
    run_worker()
    done = training(admin, training_id)
    assert done["status"] == "succeeded"

    enqueue_again(app, training_id, f"train-{training_id}-again")
    run_worker()
    assert training(admin, training_id) == done
    assert db.models.count_documents({"aid": admin.aid}) == 1

    # a worker that died after storing the model but before recording the success
    db.trainings.update_one({"_id": db.trainings.find_one()["_id"]}, {"$set": {"status": "queued", "runId": None}})
    enqueue_again(app, training_id, f"train-{training_id}-third")
    run_worker()
    again = training(admin, training_id)
    assert again["status"] == "succeeded" and again["version"] == "1"
    assert again["binaryPath"] == done["binaryPath"]
    assert db.models.count_documents({"aid": admin.aid}) == 1
    assert db.fs.files.count_documents({}) == 0 and db["models.files"].count_documents({}) == 1
    assert db.counters.find_one({"_id": f"model_version:{admin.aid}"})["value"] == 1


def test_a_repeating_training_schedules_its_next_occurrence_once(app, admin, run_worker, db):
    from bson import ObjectId

    training_id = launch(admin, {"dataset": "german-credit", "note": "nightly"}, cron="0 3 * * *")
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    db.trainings.update_one({"_id": ObjectId(training_id)}, {"$set": {"scheduledAt": past}})
    enqueue_again(app, training_id, f"train-{training_id}-due")
    enqueue_again(app, training_id, f"train-{training_id}-duplicate")
    run_worker()

    assert training(admin, training_id)["status"] == "succeeded"
    successors = admin.get("/trainings?status=scheduled").get_json()
    assert len(successors) == 1
    successor = successors[0]
    assert successor["cron"] == "0 3 * * *" and successor["uuid"] is None
    assert successor["meta"]["note"] == "nightly" and "metrics" not in successor["meta"]
    at = datetime.fromisoformat(successor["scheduledAt"])
    assert (at.hour, at.minute) == (3, 0) and at > datetime.now(timezone.utc)
    assert db.trainings.find_one({"_id": ObjectId(successor["id"])})["cronOf"] == ObjectId(training_id)
    # canceling the scheduled occurrence ends the series
    assert admin.delete(f"/trainings/{successor['id']}").get_json()["status"] == "canceled"


def test_a_training_scheduled_two_seconds_ahead_runs_after_not_before(cfg, admin, live_worker, tmp_path):
    import redis
    from rq import Queue

    at = datetime.now(timezone.utc) + timedelta(seconds=2)
    training_id = launch(admin, {"dataset": "german-credit"}, scheduledAt=at.isoformat())
    queue = Queue(queue_name("trainings"), connection=redis.Redis.from_url(cfg.REDIS_URL))
    assert queue.count == 0 and queue.scheduled_job_registry.get_job_ids() == [f"train-{training_id}"]
    assert training(admin, training_id)["status"] == "scheduled"
    live_worker(queues=("trainings",), scheduler=True)

    done = wait_until(lambda: training(admin, training_id)["status"] in ("succeeded", "failed"), timeout=90)
    assert done, worker_logs(tmp_path)
    t = training(admin, training_id)
    assert t["status"] == "succeeded", t["error"]
    scheduled = datetime.fromisoformat(t["scheduledAt"])
    assert abs(scheduled - at) < timedelta(milliseconds=1)
    assert datetime.fromisoformat(t["startedAt"]) >= scheduled


def test_a_canceled_or_superseded_run_stops_at_its_next_write(app, admin, db):
    from maiascore.trainings.runs import RunAborted, TrainingRun
    from maiascore.trainings.jobs import recover_trainings

    training_id = launch(admin, {"dataset": "german-credit"})
    with app.app_context():
        run = TrainingRun.claim(training_id)
        assert run is not None and TrainingRun.claim(training_id) is None  # one claim only
        run.progress(10)
        assert db.trainings.find_one()["progress"] == 10
        r = admin.delete(f"/trainings/{training_id}")
        assert r.get_json()["status"] == "canceled"
        with pytest.raises(RunAborted):
            run.progress(100)
        assert db.trainings.find_one()["status"] == "canceled"

        second = launch(admin, {"dataset": "german-credit"})
        run = TrainingRun.claim(second)
        # its worker looks dead to the sweep, which re-queues the training for another run
        db.trainings.update_one({"_id": run.id}, {"$set": {"heartbeatAt": datetime.now(timezone.utc) - timedelta(hours=1)}})
        recover_trainings()
        assert db.trainings.find_one({"_id": run.id})["status"] == "queued"
        takeover = TrainingRun.claim(second)
        with pytest.raises(RunAborted):
            run.progress(100)
        takeover.progress(100)
        assert db.trainings.find_one({"_id": run.id})["runId"] == takeover.run_id


def test_the_sweep_resubmits_lost_jobs_and_rescues_then_fails_dead_runs(app, cfg, admin, db):
    import redis
    from bson import ObjectId
    from rq import Queue

    from maiascore.trainings.jobs import recover_trainings

    old = datetime.now(timezone.utc) - timedelta(hours=1)
    queued = launch(admin, {"dataset": "german-credit"})
    scheduled = launch(admin, {"dataset": "german-credit"},
                       scheduledAt=(datetime.now(timezone.utc) + timedelta(hours=2)).isoformat())
    dead_once = launch(admin, {"dataset": "german-credit"})
    dead_twice = launch(admin, {"dataset": "german-credit"})
    fresh = launch(admin, {"dataset": "german-credit"})
    redis.Redis.from_url(cfg.REDIS_URL).flushdb()  # Redis restarted without persistence: every job is gone

    def age(training_id, **fields):
        db.trainings.update_one({"_id": ObjectId(training_id)}, {"$set": {"updated_at": old, **fields}})

    age(queued)
    age(scheduled)
    age(dead_once, status="running", runId="gone", attempts=1, heartbeatAt=old)
    age(dead_twice, status="running", runId="gone", attempts=2, heartbeatAt=old)

    with app.app_context():
        assert recover_trainings() == (2, 2)
    queue = Queue(queue_name("trainings"), connection=redis.Redis.from_url(cfg.REDIS_URL))
    assert sorted(queue.job_ids) == sorted([f"train-{queued}", f"train-{dead_once}"])
    assert queue.scheduled_job_registry.get_job_ids() == [f"train-{scheduled}"]
    assert training(admin, fresh)["status"] == "queued"  # just posted: left alone within the grace period
    once = training(admin, dead_once)
    assert once["status"] == "queued" and "re-queued" in once["error"]
    twice = training(admin, dead_twice)
    assert twice["status"] == "failed" and "stopped" in twice["error"] and twice["finishedAt"]
    with app.app_context():
        assert recover_trainings() == (0, 0)  # the jobs are live again: nothing left to do


def test_a_worker_killed_mid_training_leaves_nothing_stuck_in_running(admin, live_worker, db, monkeypatch, tmp_path):
    from bson import ObjectId

    monkeypatch.setenv("TRAINING_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("SWEEP_INTERVAL_SECONDS", "1")
    training_id = launch(admin, {"dataset": "german-credit", "params": SLOW_PARAMS})

    def running_attempt(attempts):
        doc = db.trainings.find_one({"_id": ObjectId(training_id)})
        return doc["status"] == "running" and doc["progress"] > 0 and doc["attempts"] == attempts

    def kill(proc):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    first = live_worker(queues=("trainings",), scheduler=False)
    assert wait_until(lambda: running_attempt(1), timeout=60), worker_logs(tmp_path)
    kill(first)

    second = live_worker(queues=("trainings",), scheduler=False)
    assert wait_until(lambda: running_attempt(2), timeout=60), worker_logs(tmp_path)
    assert "re-queued" in training(admin, training_id)["error"]
    kill(second)

    live_worker(queues=("trainings",), scheduler=False)
    assert wait_until(lambda: training(admin, training_id)["status"] == "failed", timeout=60), worker_logs(tmp_path)
    assert "stopped" in training(admin, training_id)["error"]


def test_training_on_the_groups_labelled_reports(admin, make_actor, run_worker, db):
    now = datetime.now(timezone.utc)

    def report(aid, i, outcome):
        return {"aid": aid, "uuid": None, "referenceId": f"r{i}", "type": "reference", "status": "processed",
                "features": {"income": 1000 + 37 * i + (900 if outcome == "good" else 0),
                             "city": ["Lyon", "Porto", "Graz"][i % 3], "married": i % 2 == 0},
                "outcome": outcome, "created_at": now, "updated_at": now}

    db.score_reports.insert_many([report(admin.aid, i, "good" if i % 3 else "bad") for i in range(60)]
                                 + [report(admin.aid, 100 + i, None) for i in range(5)])
    few = make_actor("Account Admin")
    db.score_reports.insert_many([report(few.aid, i, "good" if i % 2 else "bad") for i in range(8)])

    by_default = launch(admin)  # enough labelled reports: they are the default dataset
    assert training(admin, by_default)["meta"]["dataset"] == "reports"
    too_few = launch(few, {"dataset": "reports"})
    run_worker()

    t = training(admin, by_default)
    assert t["status"] == "succeeded", t["error"]
    assert t["meta"]["target"] == "outcome" and t["meta"]["metrics"]["rows"]["test"] == 12
    schema = admin.get("/models/active").get_json()["schema"]
    assert {f["name"]: f["type"] for f in schema["features"]} == {
        "income": "numeric", "city": "categorical", "married": "categorical"}
    assert schema["target"] == "outcome"

    failed = training(few, too_few)
    assert failed["status"] == "failed"
    assert "8 score reports with a known outcome" in failed["error"] and "at least 20" in failed["error"]
    assert few.get("/models/active").status_code == 404


def test_the_first_model_releases_the_reports_waiting_for_one(admin, run_worker, db):
    from maiascore.modeling import load_sample

    features = {k: v for k, v in load_sample("german-credit").rows[0].items() if k != "creditability"}
    r = admin.post("/reports", json={"referenceId": "before-any-model", "features": features})
    assert r.status_code == 200, r.get_json()
    run_worker(queues=("scores",))
    assert db.score_reports.find_one()["status"] == "waiting_for_model"

    launch(admin, {"dataset": "german-credit"})
    run_worker()
    report = db.score_reports.find_one()
    assert report["status"] == "processed" and report["scoreVersion"] == "1"
    assert 300 <= report["score"] <= 850
