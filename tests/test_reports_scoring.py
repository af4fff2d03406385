"""Scoring in real ``rq worker`` processes: results, batches, ``?wait``, waiting for a model,
new model versions, failures after retries."""
import pytest
from model_fixtures import german_rows, install_model, trained_model

from conftest import wait_until
from test_reports import assert_documented_shape
from maiascore.queue import queue_name


def report_doc(db, report_id):
    from bson import ObjectId

    return db.score_reports.find_one({"_id": ObjectId(report_id)})


def expected_results(features_list, version, rounds=20):
    from maiascore.modeling import ScoringModel

    model = trained_model(rounds)
    return ScoringModel.from_bytes(model.booster_bytes, model.schema.to_dict(), version).score(features_list)


def test_seed_body_without_features_is_scored_with_near_zero_confidence(admin, db, run_worker):
    model_doc = install_model(admin.aid)
    seed = {"uuid": "string", "referenceId": "string", "type": "reference", "processed": True,
            "users_permissions_user": "string", "score": 0, "scoreProbability": 0, "scoreConfidence": 0,
            "scoreVersion": "string"}
    report = admin.post("/reports", json=seed).get_json()
    run_worker(queues=("scores",))
    scored = admin.get(f"/reports/{report['id']}").get_json()
    assert scored["status"] == "processed" and scored["processed"] is True
    assert 300 <= scored["score"] <= 850 and 0 < scored["scoreProbability"] < 1
    assert scored["scoreConfidence"] <= 0.05
    assert scored["scoreVersion"] == model_doc["version"]
    assert any("all features missing" in w for w in scored["warnings"])
    assert scored["processed_at"] >= scored["created_at"]
    assert_documented_shape(scored)
    listed = admin.get("/reports").get_json()
    assert listed == [scored]


def test_scores_match_the_model_with_explanation_and_warnings(admin, db, run_worker):
    model_doc = install_model(admin.aid)
    rows = german_rows(3)
    rows[1] = {**rows[1], "favourite_colour": "green"}
    rows[2] = {k: v for k, v in rows[2].items() if k not in ("age_in_years", "duration_in_month")}
    ids = [admin.post("/reports", json={"referenceId": f"a{i}", "features": row}).get_json()["id"]
           for i, row in enumerate(rows)]
    run_worker(queues=("scores",))

    expected = expected_results(rows, model_doc["version"])
    for report_id, want in zip(ids, expected):
        got = admin.get(f"/reports/{report_id}").get_json()
        assert got["status"] == "processed"
        assert got["score"] == want.score and got["scoreProbability"] == pytest.approx(want.probability)
        assert got["scoreConfidence"] == pytest.approx(want.confidence)
        assert len(got["explanation"]) == 5
        assert {"feature", "value", "contribution"} == set(got["explanation"][0])
        contributions = [abs(e["contribution"]) for e in got["explanation"]]
        assert contributions == sorted(contributions, reverse=True)
    first, with_unknown, with_missing = (admin.get(f"/reports/{i}").get_json() for i in ids)
    assert first["scoreConfidence"] == 1.0 and first["warnings"] == []
    assert any("favourite_colour" in w for w in with_unknown["warnings"])
    assert with_missing["scoreConfidence"] < 1.0 and any("age_in_years" in w for w in with_missing["warnings"])


def test_bulk_of_1000_is_scored_in_batches_exactly_once(admin, db, cfg, run_worker):
    from rq import Queue

    install_model(admin.aid)
    cfg.SCORING_BATCH_SIZE = 500
    body = [{"referenceId": f"b{i}", "features": row} for i, row in enumerate(german_rows(1000))]
    result = admin.post("/reports", json=body).get_json()
    assert result["accepted"] == 1000
    assert len(Queue(queue_name("scores"), connection=__import__("redis").Redis.from_url(cfg.REDIS_URL))) == 2
    run_worker(queues=("scores",))
    assert db.score_reports.count_documents({"status": "processed", "scoringRuns": 1}) == 1000
    assert db.score_batches.count_documents({"status": "done", "scored": 500}) == 2

    # Running every batch's job again (a retry, a duplicate enqueue) scores nothing twice.
    from maiascore.queue import SCORES, enqueue
    from maiascore.reports.batch_lane import score_batch
    for batch in db.score_batches.find():
        enqueue(SCORES, score_batch, batch["_id"])
    run_worker(queues=("scores",))
    assert db.score_reports.count_documents({"scoringRuns": 1}) == 1000


def test_wait_answers_with_the_score(admin, make_actor, db, live_worker):
    install_model(admin.aid)
    live_worker(queues=("scores",))
    without_model = make_actor().post("/reports?wait=25", json={"referenceId": "early"})
    assert without_model.get_json()["status"] == "waiting_for_model"
    features = german_rows(1)[0]
    r = admin.post("/reports?wait=25", json={"features": features})
    assert r.status_code == 200 and r.get_json()["status"] == "processed", r.get_json()
    assert r.get_json()["score"] is not None
    r = admin.post("/reports", json={"features": features}, headers={"Prefer": "wait=25"})
    assert r.get_json()["status"] == "processed"
    report_id = r.get_json()["id"]
    r = admin.post(f"/reports/{report_id}/rescore?wait=25")
    assert r.get_json()["status"] == "processed"
    assert report_doc(db, report_id)["scoringRuns"] == 2
    r = admin.put(f"/reports/{report_id}?wait=25", json={"features": {**features, "age_in_years": 70}})
    assert r.get_json()["status"] == "processed"
    assert r.get_json()["explanation"] != [] and report_doc(db, report_id)["scoringRuns"] == 3


def test_a_waited_answer_is_what_a_later_read_shows_and_the_result_came_in_the_message(admin, db, cfg, live_worker,
                                                                                     monkeypatch):
    """The workers' lane (the web process does not score: WEB_SCORING off)."""
    from maiascore.reports import notification

    cfg.WEB_SCORING = False
    install_model(admin.aid)
    live_worker(queues=("scores",))
    # the worker process may still be starting (past WAIT_HANDOFF_SECONDS): the API then stores this one itself
    assert admin.post("/reports?wait=25", json={"features": german_rows(1)[0]}).get_json()["status"] == "processed"
    decoded = []
    real_decode = notification.decode_result
    monkeypatch.setattr(notification, "decode_result", lambda data: decoded.append(real_decode(data)) or decoded[-1])
    for row in german_rows(3):
        waited = admin.post("/reports?wait=25", json={"features": row})
        assert waited.status_code == 200 and waited.get_json()["status"] == "processed"
        assert admin.get(f"/reports/{waited.get_json()['id']}").get_json() == waited.get_json()
    assert len(decoded) == 3 and all(d is not None and d["status"] == "processed" for d in decoded)


def test_a_waiter_reads_the_report_after_a_nudge_or_a_silent_second(app, admin, db, cfg):
    """A nudge (a result that did not land for every report of the write) or a lost message: the
    waiter reads the report, and returns what MongoDB holds."""
    import threading
    import time

    import redis
    from maiascore.reports import notification, service, waiting

    conn = redis.Redis.from_url(cfg.REDIS_URL)
    caller = service.Caller(user={"_id": admin.id}, aid=admin.aid, permissions=frozenset(), is_admin=True)
    for message in (notification.NUDGE, None):
        with app.app_context():
            doc = admin.post("/reports", json={"referenceId": "nudged"}).get_json()
            stored = db.score_reports.find_one({"referenceId": "nudged", "status": "queued"})

            def settle():
                time.sleep(0.3)
                db.score_reports.update_one({"_id": stored["_id"]}, {"$set": {"status": "failed", "error": "x"}})
                if message is not None:
                    conn.publish(notification.scored_channel(stored["batch"]), message)

            threading.Thread(target=settle).start()
            got = waiting.wait_for_result(stored, 10, caller)
        assert got["status"] == "failed" and got["error"] == "x" and str(got["_id"]) == doc["id"]


def test_wait_gives_up_after_n_seconds_with_what_there_is(admin, db):
    r = admin.post("/reports?wait=0.3", json={"referenceId": "nobody scores me"})
    assert r.status_code == 200 and r.get_json()["status"] == "queued" and r.get_json()["processed"] is False
    r = admin.get(f"/reports/{r.get_json()['id']}?wait=0.2")
    assert r.status_code == 200 and r.get_json()["status"] == "queued"


def test_reports_wait_for_a_model_then_are_scored_when_one_is_activated(admin, make_actor, db, run_worker):
    other = make_actor()
    mine = admin.post("/reports", json={"features": german_rows(1)[0]}).get_json()
    theirs = other.post("/reports", json={"features": german_rows(1)[0]}).get_json()
    run_worker(queues=("scores",))
    assert admin.get(f"/reports/{mine['id']}").get_json()["status"] == "waiting_for_model"

    model_doc = install_model(admin.aid)  # activation re-queues the group's waiting reports
    run_worker(queues=("scores",))
    scored = admin.get(f"/reports/{mine['id']}").get_json()
    assert scored["status"] == "processed" and scored["scoreVersion"] == model_doc["version"]
    assert other.get(f"/reports/{theirs['id']}").get_json()["status"] == "waiting_for_model"
    assert db.score_reports.count_documents({"aid": admin.aid, "status": "processed", "scoringRuns": 1}) == 1


def test_a_newly_activated_version_is_used_without_restarting_the_worker(admin, db, live_worker):
    first = install_model(admin.aid)
    live_worker(queues=("scores",))
    features = german_rows(1)[0]
    assert admin.post("/reports?wait=25", json={"features": features}).get_json()["scoreVersion"] == first["version"]
    second = install_model(admin.aid, rounds=30)
    assert second["version"] != first["version"]
    r = admin.post("/reports?wait=25", json={"features": features}).get_json()
    assert r["status"] == "processed" and r["scoreVersion"] == second["version"]
    assert r["score"] == expected_results([features], second["version"], rounds=30)[0].score


def test_a_report_that_keeps_failing_is_marked_failed_after_retries(admin, db, cfg, live_worker, tmp_path):
    import redis
    from rq import Worker

    from maiascore.trainings import registry

    model = trained_model()
    schema = model.schema.to_dict()
    schema["features"] = schema["features"][:-1]  # the booster expects one feature more: loading raises
    training_id = "broken-training"
    registry.store_model(admin.aid, training_id, registry.new_version(admin.aid), model.booster_bytes, schema, {})
    registry.activate(admin.aid, training_id)
    worker = live_worker(queues=("scores",))
    # posted once the worker is up: its start-up sweep then finds the report fresh, not stranded (a second drain)
    conn = redis.Redis.from_url(cfg.REDIS_URL)
    assert wait_until(lambda: any(w.pid == worker.pid for w in Worker.all(connection=conn)), 60)
    report = admin.post("/reports", json={"features": german_rows(1)[0]}).get_json()
    failed = wait_until(lambda: admin.get(f"/reports/{report['id']}").get_json()["status"] == "failed", 60)
    assert failed
    got = admin.get(f"/reports/{report['id']}").get_json()
    assert got["error"].startswith("Scoring failed: ValueError") and "Traceback" not in got["error"]
    assert got["processed"] is False and got["score"] is None
    log = (tmp_path / "worker0.log").read_text()
    assert log.count("exception raised while executing (maiascore.reports.single_lane.drain_group)") == 3  # 1 + 2 retries


def test_the_scoring_jobs_read_the_active_model_again_only_when_an_activation_moved_its_mark(app, admin, db, cfg,
                                                                                              monkeypatch):
    import redis
    from maiascore.trainings import registry

    reads = []
    real = registry.active_model
    monkeypatch.setattr(registry, "active_model", lambda aid: reads.append(aid) or real(aid))
    with app.app_context():
        assert registry.active_model_for_scoring(admin.aid) is None and len(reads) == 1
        first = install_model(admin.aid)
        assert registry.active_model_for_scoring(admin.aid)["version"] == first["version"]  # no model is cached
        assert registry.active_model_for_scoring(admin.aid)["version"] == first["version"] and len(reads) == 2
        second = install_model(admin.aid)  # activate() moves the mark
        assert registry.active_model_for_scoring(admin.aid)["version"] == second["version"] and len(reads) == 3
        redis.Redis.from_url(cfg.REDIS_URL).delete(registry._mark_key(admin.aid))  # Redis lost its keys
        assert registry.active_model_for_scoring(admin.aid)["version"] == second["version"] and len(reads) == 4
