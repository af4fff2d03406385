"""Groups take turns on the workers: one group's backlog (a bulk, a queue of trainings) never holds
another group's single report or small training until the backlog is done."""
from model_fixtures import german_rows, install_model

from conftest import wait_until


def test_a_single_report_is_scored_before_another_groups_queued_bulk(admin, make_actor, db, cfg, run_worker):
    bulky = make_actor()
    install_model(admin.aid), install_model(bulky.aid)
    cfg.SCORING_BATCH_SIZE = 5
    body = [{"referenceId": f"b{i}", "features": row} for i, row in enumerate(german_rows(40))]
    assert bulky.post("/reports", json=body).get_json()["accepted"] == 40  # 8 batch jobs, queued first
    mine = admin.post("/reports", json={"referenceId": "mine", "features": german_rows(1)[0]}).get_json()

    run_worker(queues=("scores",))  # one scoring worker, as `make run` starts
    scored = db.score_reports.find_one({"referenceId": "mine"})
    assert scored["status"] == "processed" and str(scored["_id"]) == mine["id"]
    assert db.score_reports.count_documents({"aid": bulky.aid, "status": "processed", "scoringRuns": 1}) == 40
    # B's reports still queued when A's was scored: none of the bulk went before it
    before = db.score_reports.count_documents({"aid": bulky.aid, "processed_at": {"$lt": scored["processed_at"]}})
    assert before == 0, f"{before} of the other group's bulk were scored before the single report"


def test_groups_take_turns_on_the_trainer(admin, make_actor, db, run_worker):
    other = make_actor()
    small = {"dataset": "german-credit", "params": {"num_boost_round": 5}}
    first, second = (admin.post("/trainings", json={"meta": small}).get_json()["id"] for _ in range(2))
    theirs = other.post("/trainings", json={"meta": small}).get_json()["id"]
    run_worker(queues=("trainings",))  # one trainer
    started = sorted(db.trainings.find({}, {"startedAt": 1, "status": 1}), key=lambda d: d["startedAt"])
    assert [d["status"] for d in started] == ["succeeded"] * 3
    assert [str(d["_id"]) for d in started] == [first, theirs, second]  # not the order they were posted in


def test_a_single_report_posted_during_another_groups_batch_goes_before_the_rest_of_it(
        admin, make_actor, db, cfg, live_worker, monkeypatch):
    bulky = make_actor()
    install_model(admin.aid), install_model(bulky.aid)
    cfg.SCORING_BATCH_SIZE = 400  # one batch job
    monkeypatch.setenv("SCORING_TURN_ROWS", "5")  # the worker's: it looks at the singles queue every 5 reports
    body = [{"referenceId": f"b{i}", "features": row} for i, row in enumerate(german_rows(400))]
    assert bulky.post("/reports", json=body).get_json()["accepted"] == 400
    live_worker(queues=("scores",), scheduler=False)
    assert wait_until(lambda: db.score_reports.find_one({"aid": bulky.aid, "status": "processed"}), 60, 0.005)
    admin.post("/reports", json={"referenceId": "mine", "features": german_rows(1)[0]})
    scored = wait_until(lambda: db.score_reports.find_one({"referenceId": "mine", "status": "processed"}), 60)
    assert scored
    assert wait_until(lambda: db.score_reports.count_documents({"aid": bulky.aid, "status": "processed"}) == 400, 60)
    after = db.score_reports.count_documents({"aid": bulky.aid, "processed_at": {"$gt": scored["processed_at"]}})
    assert after > 0, "the single report waited for the whole batch of the other group"
    assert db.score_reports.count_documents({"aid": bulky.aid, "scoringRuns": 1}) == 400  # each scored once
